// The batch path (preprocess_files / preprocess_buffers) lets libjpeg skip the IDCT, upsampling
// and colour conversion of the columns (jpeg_crop_scanline) and rows (jpeg_skip_scanlines) the
// preset never reads. This must not change a single value: for JPEGs encoded here in every
// sampling layout (large enough that the windows really cut them), preprocessing through the
// batch path must equal full decode + preprocess, bit for bit, for many crop geometries.
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <vector>

#include <jpeglib.h>

#include "common/testing.hpp"
#include "cuclip/image.hpp"

using namespace cuclip;

namespace {

// Encodes a smooth synthetic picture with fine detail (so chroma upsampling matters).
std::vector<uint8_t> encode_jpeg(int w, int h, int components, int h_samp, int v_samp, bool progressive) {
  std::vector<uint8_t> px((size_t)w * h * components);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < components; ++c)
        px[((size_t)y * w + x) * components + c] =
            (uint8_t)(128 + 60 * std::sin(0.031 * x * (c + 1) + 0.017 * y) + 40 * std::cos(0.23 * (x ^ y) + c) +
                      ((x * 7 + y * 13 + c * 5) % 23));
  jpeg_compress_struct cinfo;
  jpeg_error_mgr jerr;
  cinfo.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&cinfo);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buf, &size);
  cinfo.image_width = w;
  cinfo.image_height = h;
  cinfo.input_components = components;
  cinfo.in_color_space = components == 1 ? JCS_GRAYSCALE : components == 3 ? JCS_RGB : JCS_CMYK;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 85, TRUE);
  if (components == 3) {
    cinfo.comp_info[0].h_samp_factor = h_samp;
    cinfo.comp_info[0].v_samp_factor = v_samp;
  }
  if (progressive) jpeg_simple_progression(&cinfo);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = px.data() + (size_t)cinfo.next_scanline * w * components;
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  std::vector<uint8_t> out(buf, buf + size);
  jpeg_destroy_compress(&cinfo);
  free(buf);
  return out;
}

}  // namespace

TEST_CASE("jpeg_window_decoding_in_the_batch_path_changes_no_value", "[image]") {
  struct Layout { int components, h_samp, v_samp; bool progressive; int w, h; };
  const Layout layouts[] = {{3, 2, 2, false, 640, 427}, {3, 2, 1, false, 433, 611}, {3, 1, 1, false, 517, 300},
                            {3, 2, 2, true, 700, 500},  {1, 1, 1, false, 480, 330}, {4, 1, 1, false, 400, 520},
                            {3, 1, 2, false, 300, 900}, {3, 2, 2, false, 1000, 160}};
  int cut = 0;
  for (const Layout& l : layouts) {
    const auto jpg = encode_jpeg(l.w, l.h, l.components, l.h_samp, l.v_samp, l.progressive);
    img::Image full;
    REQUIRE(img::decode_memory(jpg.data(), jpg.size(), {}, &full).ok());
    for (int size : {24, 64, 97, 160}) {
      for (int variant = 0; variant < 3; ++variant) {
        img::Preset p = variant == 1 ? img::hf_clip_preset(size) : img::openai_preset(size);
        if (variant == 2) { p.resize_mode = img::ResizeMode::Longest; p.interp = img::Interp::Bilinear; }
        INFO(l.w << "x" << l.h << " comps " << l.components << " samp " << l.h_samp << "x" << l.v_samp
                 << (l.progressive ? " progressive" : "") << " size " << size << " variant " << variant);
        const size_t per = 3 * (size_t)size * size;
        std::vector<float> batch(per, -7.0f), single(per, 7.0f);
        Status st;
        img::preprocess_buffers({jpg.data()}, {jpg.size()}, p, {}, batch.data(), &st, 1);
        INFO(st.message);
        REQUIRE(st.ok());
        REQUIRE(img::preprocess(full, p, single.data()).ok());
        size_t differ = 0;
        for (size_t k = 0; k < per; ++k) differ += batch[k] != single[k];
        CHECK(differ == 0);
        ++cut;
      }
    }
  }
  CHECK(cut == 8 * 4 * 3);
}

TEST_CASE("jpeg_window_decoding_still_reports_truncation_below_the_window", "[image]") {
  // A tall image cut at 85%: the rows the preset reads are intact, the file is still truncated and
  // Pillow refuses it; so must the batch path (the skipped rows are still entropy-decoded).
  const auto jpg = encode_jpeg(300, 900, 3, 2, 2, false);
  const std::vector<uint8_t> cut(jpg.begin(), jpg.begin() + jpg.size() * 85 / 100);
  const img::Preset p = img::openai_preset(64);
  std::vector<float> out(3 * 64 * 64);
  Status st;
  img::preprocess_buffers({cut.data()}, {cut.size()}, p, {}, out.data(), &st, 1);
  CHECK(st.code == CUCLIP_ERR_INVALID_IMAGE);
  CHECK(st.message.find("truncated") != std::string::npos);
}
