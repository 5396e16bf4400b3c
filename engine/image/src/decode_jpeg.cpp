// JPEG via libjpeg(-turbo) with Pillow's decoder settings (JpegImagePlugin.py + JpegDecode.c):
// 1 component -> L (JCS_GRAYSCALE), 3 -> RGB (JCS_RGB), 4 -> CMYK (JCS_CMYK, YCCK converted by
// libjpeg) stored inverted ("CMYK;I": Pillow always assumes Adobe's inverted convention).
// libjpeg defaults otherwise: ISLOW integer IDCT, fancy upsampling, no scaling, block smoothing.
// Only 8-bit samples (Pillow refuses others). A premature end of data, which libjpeg only reports
// as a warning while padding with grey, is an error here; other warnings are ignored as Pillow does.
#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>

#include <jpeglib.h>
#include <jerror.h>

#include "image_internal.hpp"

namespace cuclip::img {
namespace {

struct ErrorManager {
  jpeg_error_mgr pub;
  jmp_buf jump;
  bool truncated;
  char message[JMSG_LENGTH_MAX];
};

void on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

void on_message(j_common_ptr cinfo, int level) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) err->truncated = true;
}

// Runs the libjpeg calls. Only trivially destructible locals live in this frame, so the longjmp
// from on_error skips nothing that needs cleanup.
Status run(jpeg_decompress_struct* cinfo, ErrorManager* err, const uint8_t* data, size_t size,
           const DecodeOptions& opt, const Preset* preset, Image* out) {
  if (setjmp(err->jump))
    return invalid_image(std::string(err->truncated ? "truncated JPEG: " : "corrupt JPEG: ") + err->message);
  jpeg_mem_src(cinfo, data, (unsigned long)size);
  jpeg_read_header(cinfo, TRUE);
  if (err->truncated) return invalid_image("truncated JPEG (data ends inside the header)");
  if (cinfo->data_precision != 8)
    return unsupported_image("JPEG with " + std::to_string(cinfo->data_precision) + "-bit samples");
  Mode mode;
  switch (cinfo->num_components) {
    case 1: mode = Mode::L; cinfo->out_color_space = JCS_GRAYSCALE; break;
    case 3: mode = Mode::RGB; cinfo->out_color_space = JCS_RGB; break;
    case 4: mode = Mode::CMYK; cinfo->out_color_space = JCS_CMYK; break;
    default:
      return unsupported_image("JPEG with " + std::to_string(cinfo->num_components) + " components");
  }
  {
    Status s = check_and_allocate("JPEG", cinfo->image_width, cinfo->image_height, mode, opt, out);
    if (!s.ok()) return s;
  }
  cinfo->dct_method = JDCT_ISLOW;
  cinfo->do_fancy_upsampling = TRUE;
  // With a preset, IDCT / upsample / colour-convert only the window it reads (plus a margin wider
  // than any upsampling context, so the kept pixels equal a full decode: tests/image checks this).
  // Rows outside are still entropy-decoded by jpeg_skip_scanlines, so truncation is still seen.
  constexpr int kMargin = 32;
  SourceWindow win{0, out->width, 0, out->height};
  if (preset) {
    win = source_window_for_preset(out->width, out->height, *preset);
    win.x0 = std::max(0, win.x0 - kMargin);
    win.x1 = std::min(out->width, win.x1 + kMargin);
    win.y0 = std::max(0, win.y0 - kMargin);
    win.y1 = std::min(out->height, win.y1 + kMargin);
  }
  jpeg_start_decompress(cinfo);
  if (cinfo->output_components != bytes_per_pixel(mode))
    return unsupported_image("JPEG colour space libjpeg cannot convert to " + std::string(mode_name(mode)));
  const int bpp = bytes_per_pixel(mode);
  JDIMENSION x_off = (JDIMENSION)win.x0, x_width = (JDIMENSION)(win.x1 - win.x0);
  if (x_off != 0 || x_width != (JDIMENSION)out->width) jpeg_crop_scanline(cinfo, &x_off, &x_width);
  const size_t row_bytes = (size_t)out->width * bpp;
  if (win.y0 > 0 && jpeg_skip_scanlines(cinfo, (JDIMENSION)win.y0) != (JDIMENSION)win.y0) err->truncated = true;
  while (!err->truncated && cinfo->output_scanline < (JDIMENSION)win.y1) {
    JSAMPROW row = out->pixels.data() + row_bytes * cinfo->output_scanline + (size_t)x_off * bpp;
    if (jpeg_read_scanlines(cinfo, &row, 1) != 1) break;
  }
  // Skipping to the very end returns without reading anything, so skip all but the last row and
  // decode that one: the entropy decoder then walks the whole stream and meets any truncation.
  const JDIMENSION rest = cinfo->output_height - cinfo->output_scanline;
  if (!err->truncated && rest > 1 && jpeg_skip_scanlines(cinfo, rest - 1) != rest - 1) err->truncated = true;
  if (!err->truncated && cinfo->output_scanline + 1 == cinfo->output_height) {
    JSAMPROW row = out->pixels.data() + row_bytes * cinfo->output_scanline + (size_t)x_off * bpp;
    jpeg_read_scanlines(cinfo, &row, 1);
  }
  if (err->truncated || cinfo->output_scanline < cinfo->output_height)
    return invalid_image("truncated JPEG: data ends before the last row (" +
                         std::to_string(cinfo->output_scanline) + " of " + std::to_string(cinfo->output_height) +
                         " rows complete)");
  if (mode == Mode::CMYK)
    for (uint8_t& v : out->pixels) v = (uint8_t)(255 - v);
  return Status::Ok();
}

}  // namespace

Status decode_jpeg(const uint8_t* data, size_t size, const DecodeOptions& opt, const Preset* preset, Image* out) {
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  std::memset(&err, 0, sizeof err);
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error;
  err.pub.emit_message = on_message;
  jpeg_create_decompress(&cinfo);
  Status s = run(&cinfo, &err, data, size, opt, preset, out);
  jpeg_destroy_decompress(&cinfo);
  if (!s.ok()) *out = Image{};
  return s;
}

}  // namespace cuclip::img
