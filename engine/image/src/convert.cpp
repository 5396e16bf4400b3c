// Mode conversions as Pillow 13 does them, and the crop/pad step:
// - convert("RGB"): L/1/LA replicate the gray value, RGBA drops alpha (no compositing), P looks up
//   the palette, I;16 clips to 255 (no scaling: a 16-bit PNG with values > 255 turns white),
//   CMYK uses nk = 255 - K, channel = nk - round(C * nk / 255).
// - transformers' convert_rgb: images with an alpha band or info["transparency"] go to RGBA
//   (palette alpha, or alpha 0 where the pixel equals the keyed colour) and are composited over
//   opaque white with Pillow's alpha_composite integer formula (7 extra bits of precision).
#include <algorithm>
#include <cstring>

#include "image_internal.hpp"

namespace cuclip::img {

int bytes_per_pixel(Mode m) {
  switch (m) {
    case Mode::L: case Mode::P: case Mode::Bit1: return 1;
    case Mode::LA: case Mode::I16: return 2;
    case Mode::RGB: return 3;
    case Mode::RGBA: case Mode::CMYK: return 4;
  }
  return 1;
}

const char* mode_name(Mode m) {
  switch (m) {
    case Mode::L: return "L";
    case Mode::LA: return "LA";
    case Mode::RGB: return "RGB";
    case Mode::RGBA: return "RGBA";
    case Mode::P: return "P";
    case Mode::I16: return "I;16";
    case Mode::CMYK: return "CMYK";
    case Mode::Bit1: return "1";
  }
  return "?";
}

namespace {

inline uint8_t muldiv255(unsigned a, unsigned b) {
  unsigned t = a * b + 128;
  return (uint8_t)(((t >> 8) + t) >> 8);
}

inline uint8_t i16_to_u8(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return (uint8_t)std::min<unsigned>(v, 255);
}

// One pixel of `in` as RGBA (alpha 255 unless the mode carries alpha or keyed transparency).
inline void pixel_rgba(const Image& in, const uint8_t* s, uint8_t* d) {
  const uint8_t key0 = (uint8_t)in.transparent_color[0], key1 = (uint8_t)in.transparent_color[1],
                key2 = (uint8_t)in.transparent_color[2];
  switch (in.mode) {
    case Mode::L: case Mode::Bit1:
      d[0] = d[1] = d[2] = s[0];
      d[3] = (in.has_transparency && s[0] == key0) ? 0 : 255;
      break;
    case Mode::I16: {
      const uint8_t v = i16_to_u8(s);
      d[0] = d[1] = d[2] = v;
      d[3] = (in.has_transparency && v == key0) ? 0 : 255;
      break;
    }
    case Mode::LA: d[0] = d[1] = d[2] = s[0]; d[3] = s[1]; break;
    case Mode::RGB:
      d[0] = s[0]; d[1] = s[1]; d[2] = s[2];
      d[3] = (in.has_transparency && s[0] == key0 && s[1] == key1 && s[2] == key2) ? 0 : 255;
      break;
    case Mode::RGBA: std::memcpy(d, s, 4); break;
    case Mode::P: std::memcpy(d, &in.palette[s[0] * 4], 4); break;
    case Mode::CMYK: {
      const unsigned nk = 255 - s[3];
      for (int c = 0; c < 3; ++c) d[c] = (uint8_t)(nk - muldiv255(s[c], nk));
      d[3] = 255;
      break;
    }
  }
}

Image rgb_like(const Image& in) {
  Image out;
  out.width = in.width;
  out.height = in.height;
  out.mode = Mode::RGB;
  out.pixels.resize((size_t)in.width * in.height * 3);
  return out;
}

}  // namespace

void convert_to_rgb(const Image& in, Image* out) {
  Image r = rgb_like(in);
  const int bpp = bytes_per_pixel(in.mode);
  const size_t n = (size_t)in.width * in.height;
  const uint8_t* s = in.pixels.data();
  uint8_t* d = r.pixels.data();
  if (in.mode == Mode::RGB) {
    std::memcpy(d, s, n * 3);
  } else {
    uint8_t px[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < n; ++i, s += bpp, d += 3) {
      if (in.mode == Mode::P) {
        std::memcpy(d, &in.palette[s[0] * 4], 3);
        continue;
      }
      // convert("RGB") ignores transparency: only the colour matters here.
      switch (in.mode) {
        case Mode::L: case Mode::Bit1: case Mode::LA: d[0] = d[1] = d[2] = s[0]; break;
        case Mode::I16: d[0] = d[1] = d[2] = i16_to_u8(s); break;
        case Mode::RGBA: d[0] = s[0]; d[1] = s[1]; d[2] = s[2]; break;
        default: pixel_rgba(in, s, px); std::memcpy(d, px, 3); break;
      }
    }
  }
  *out = std::move(r);
}

void convert_to_rgb_over_white(const Image& in, Image* out) {
  const bool has_alpha = in.mode == Mode::LA || in.mode == Mode::RGBA || in.has_transparency;
  if (!has_alpha) {
    convert_to_rgb(in, out);
    return;
  }
  Image r = rgb_like(in);
  const int bpp = bytes_per_pixel(in.mode);
  const size_t n = (size_t)in.width * in.height;
  const uint8_t* s = in.pixels.data();
  uint8_t* d = r.pixels.data();
  constexpr unsigned kBits = 7;  // Pillow's alpha_composite precision
  for (size_t i = 0; i < n; ++i, s += bpp, d += 3) {
    uint8_t px[4] = {0, 0, 0, 255};
    pixel_rgba(in, s, px);
    const unsigned a = px[3];
    if (a == 0) {
      d[0] = d[1] = d[2] = 255;
      continue;
    }
    // Background is opaque white: blend = 255 * (255 - a), out alpha * 255 = a * 255 + blend.
    const unsigned outa255 = a * 255 + 255 * (255 - a);
    const unsigned coef1 = a * 255 * 255 * (1u << kBits) / outa255;
    const unsigned coef2 = 255 * (1u << kBits) - coef1;
    for (int c = 0; c < 3; ++c) {
      unsigned t = px[c] * coef1 + 255 * coef2 + (0x80u << kBits);
      d[c] = (uint8_t)((((t >> 8) + t) >> 8) >> kBits);
    }
  }
  *out = std::move(r);
}

void crop_or_pad(const Image& in, int left, int top, int w, int h, int fill, Image* out) {
  Image r;
  r.width = w;
  r.height = h;
  r.mode = in.mode;
  r.palette = in.palette;
  r.palette_size = in.palette_size;
  r.has_transparency = in.has_transparency;
  r.transparent_color = in.transparent_color;
  const int bpp = bytes_per_pixel(in.mode);
  r.pixels.resize((size_t)w * h * bpp);
  if (in.mode == Mode::I16) {
    const uint16_t v = (uint16_t)fill;
    for (size_t i = 0; i < r.pixels.size(); i += 2) std::memcpy(&r.pixels[i], &v, 2);
  } else {
    std::fill(r.pixels.begin(), r.pixels.end(), (uint8_t)fill);
  }
  const int x0 = std::max(0, left), x1 = std::min(in.width, left + w);
  const int y0 = std::max(0, top), y1 = std::min(in.height, top + h);
  if (x0 < x1)
    for (int y = y0; y < y1; ++y)
      std::memcpy(r.pixels.data() + ((size_t)(y - top) * w + (x0 - left)) * bpp, in.row(y) + (size_t)x0 * bpp,
                  (size_t)(x1 - x0) * bpp);
  *out = std::move(r);
}

}  // namespace cuclip::img
