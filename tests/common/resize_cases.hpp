// Images and presets that exercise every branch of the device-resize plan (img::plan_resample):
// downscaling by large and small factors, upscaling, unchanged axes, extreme aspect ratios, both
// pass orders, padding (longest-side resize, resize_size below the crop), squash without a crop,
// bilinear, gray images, both reference orders and crop roundings. Pixels are noise over hard
// black/white edges, so the bicubic ringing clips at 0 and 255 in both passes.
#pragma once
#include <random>
#include <string>
#include <vector>

#include "cuclip/image.hpp"

namespace cuclip_test {

struct ResizeCase {
  std::string name;
  cuclip::img::Image image;
  cuclip::img::Preset preset;
};

inline cuclip::img::Image random_image(int w, int h, cuclip::img::Mode mode, std::mt19937& rng) {
  cuclip::img::Image im;
  im.width = w;
  im.height = h;
  im.mode = mode;
  const int C = cuclip::img::bytes_per_pixel(mode);
  im.pixels.resize((size_t)w * h * C);
  std::uniform_int_distribution<int> noise(0, 255);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < C; ++c) {
        const bool edge = ((x / 7) + (y / 5) + c) % 3 == 0;  // blocks of full black / white
        im.pixels[((size_t)y * w + x) * C + c] = (uint8_t)(edge ? (((x / 7) % 2) ? 255 : 0) : noise(rng));
      }
  return im;
}

// `size` is the model's input side; `seed` makes the set reproducible.
inline std::vector<ResizeCase> resize_cases(int size, unsigned seed) {
  using namespace cuclip::img;
  std::mt19937 rng(seed);
  std::vector<ResizeCase> out;
  auto add = [&](const std::string& name, int w, int h, Mode m, Preset p) {
    out.push_back({name + " " + std::to_string(w) + "x" + std::to_string(h) + (m == Mode::L ? " L" : " RGB"),
                   random_image(w, h, m, rng), p});
  };
  const Preset oa = openai_preset(size), hf = [&] { Preset p = hf_clip_preset(size); p.resize_size = size + size / 7; return p; }();
  const int s = size;
  for (const Preset& p : {oa, hf}) {
    const std::string tag = p.order == Order::ResizeCropThenRgb ? "openai" : "hf";
    add(tag + " photo landscape", 3 * s + 17, 2 * s + 5, Mode::RGB, p);
    add(tag + " photo portrait", 2 * s + 3, 3 * s + 1, Mode::RGB, p);
    add(tag + " tall (vertical pass first)", 2 * s + 5, 12 * s + 1, Mode::RGB, p);
    add(tag + " large downscale", 9 * s + 3, 7 * s + 2, Mode::RGB, p);
    add(tag + " upscale", s / 3 + 1, s / 4 + 1, Mode::RGB, p);
    add(tag + " one row", 3 * s, 1, Mode::RGB, p);
    add(tag + " one column", 1, 2 * s + 1, Mode::RGB, p);
    add(tag + " exact size", s, s, Mode::RGB, p);
    add(tag + " one axis unchanged", s, 2 * s + 9, Mode::RGB, p);
    add(tag + " gray", 2 * s + 11, s + 40, Mode::L, p);
    add(tag + " odd crop offsets", s + 3, s + 2, Mode::RGB, p);
  }
  Preset bil = oa;
  bil.interp = Interp::Bilinear;
  add("bilinear", 3 * s + 1, 2 * s + 7, Mode::RGB, bil);
  add("bilinear upscale", s / 2, s / 3 + 2, Mode::L, bil);
  Preset longest = oa;
  longest.resize_mode = ResizeMode::Longest;
  longest.fill = 37;
  add("longest side, padded rows", 3 * s + 2, s + 5, Mode::RGB, longest);
  add("longest side, padded columns", s / 2 + 3, 2 * s, Mode::L, longest);
  Preset small = oa;
  small.resize_size = s - s / 4;  // resized below the crop: padding on every side
  small.fill = 200;
  add("resize below crop", 2 * s, 3 * s / 2, Mode::RGB, small);
  Preset squash = hf;
  squash.resize_mode = ResizeMode::Squash;
  squash.resize_size = 0;
  squash.center_crop = false;
  add("squash, no crop", 2 * s + 1, s / 2 + 3, Mode::RGB, squash);
  add("squash, vertical pass first", 2 * s, 6 * s + 1, Mode::L, squash);
  return out;
}

}  // namespace cuclip_test
