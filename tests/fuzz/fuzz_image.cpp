// Fuzzer: image decoding for every format (sniffed from the bytes: JPEG, PNG, GIF, BMP, WebP, PNM,
// and TGA as the fallback) plus CLIP preprocessing. The first two bytes pick a small preset
// (size 1..32, resize mode, interpolation, order, crop rounding, EXIF orientation), so each exec
// stays fast while every resampling path is reached. Both engine paths run: decode_memory +
// preprocess (the C API's buffers) and preprocess_buffers (the batch path, which may let the JPEG
// decoder downscale for the preset). Oracles: a decoded image's buffer matches its size and mode;
// a refused one is empty; the batch path writes NaN on failure and, for every format but JPEG (whose
// decoder may downscale for the preset), exactly the single path's floats on success; where the
// device-resize planner accepts an image, its plan executed on the host gives preprocess_u8's bytes.
#include <cmath>
#include <cstring>

#include "cuclip/image.hpp"
#include "fuzz_common.hpp"

using namespace cuclip;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t a = data[0], b = data[1];
  data += 2;
  size -= 2;
  img::Preset p = (a & 1) ? img::hf_clip_preset(1 + (a >> 3) % 32) : img::openai_preset(1 + (a >> 3) % 32);
  p.resize_mode = (b & 3) == 1 ? img::ResizeMode::Squash : (b & 3) == 2 ? img::ResizeMode::Longest : img::ResizeMode::Shortest;
  p.interp = ((b >> 2) & 3) == 1 ? img::Interp::Bilinear : ((b >> 2) & 3) == 2 ? img::Interp::Nearest : img::Interp::Bicubic;
  if (b & 0x10) p.crop_rounding = p.crop_rounding == img::CropRounding::Round ? img::CropRounding::Floor : img::CropRounding::Round;
  if (b & 0x20) p.resize_size = p.size + (a >> 1) % 4;
  p.fill = b;
  img::DecodeOptions opt;
  opt.max_pixels = 1u << 22;  // keeps one exec small; the cap itself is exercised by every big header
  opt.apply_exif_orientation = (b & 0x40) != 0;

  img::Image im;
  Status s = img::decode_memory(data, size, opt, &im);
  cuclip_fuzz::check_refusal(s);
  std::vector<float> single((size_t)3 * p.size * p.size, 0.0f);
  if (!s.ok()) {
    FUZZ_CHECK(im.pixels.empty() && im.width == 0 && im.height == 0);
  } else {
    FUZZ_CHECK(im.width > 0 && im.height > 0);
    FUZZ_CHECK(im.pixels.size() == (size_t)im.width * im.height * img::bytes_per_pixel(im.mode));
    FUZZ_CHECK((uint64_t)im.width * im.height <= opt.max_pixels);
    if (im.mode == img::Mode::P) FUZZ_CHECK(im.palette_size >= 0 && im.palette_size <= 256);
    Status ps = img::preprocess(im, p, single.data());
    cuclip_fuzz::check_refusal(ps);
    if (ps.ok())
      for (float v : single) FUZZ_CHECK(std::isfinite(v));
    std::vector<uint8_t> rgb;
    const Status us = img::preprocess_u8(im, p, &rgb);
    cuclip_fuzz::check_refusal(us);
    // The device path's plan (kernels/resize.cu runs it; run_resample_plan is its host twin) must
    // give preprocess_u8's bytes exactly wherever it accepts an image.
    img::ResamplePlan plan;
    if (img::plan_resample(im, p, &plan)) {
      FUZZ_CHECK(us.ok());
      FUZZ_CHECK(plan.src_x0 >= 0 && plan.src_y0 >= 0 && plan.src_x0 + plan.src_w <= im.width &&
                 plan.src_y0 + plan.src_h <= im.height);
      const size_t stride = (size_t)im.width * plan.channels;
      std::vector<uint8_t> dev(rgb.size());
      img::run_resample_plan(plan, im.pixels.data() + plan.src_y0 * stride + (size_t)plan.src_x0 * plan.channels, stride,
                             dev.data());
      FUZZ_CHECK(dev == rgb);
    }
  }
  std::vector<float> batch((size_t)3 * p.size * p.size, 0.0f);
  Status bs;
  img::preprocess_buffers({data}, {size}, p, opt, batch.data(), &bs, 1);
  cuclip_fuzz::check_refusal(bs);
  if (!bs.ok())
    for (float v : batch) FUZZ_CHECK(std::isnan(v));
  else
    for (float v : batch) FUZZ_CHECK(std::isfinite(v));
  // Only JPEG may decode differently for a known preset (DCT downscaling); every other format must
  // give the batch path exactly the single path's result.
  if (img::sniff_format(data, size) != img::Format::Jpeg) {
    const Status ps = s.ok() ? img::preprocess(im, p, single.data()) : s;
    FUZZ_CHECK(ps.code == bs.code);
    if (ps.ok()) FUZZ_CHECK(std::memcmp(single.data(), batch.data(), single.size() * sizeof(float)) == 0);
  }
  return 0;
}
