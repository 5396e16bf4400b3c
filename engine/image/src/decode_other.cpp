// WebP (libwebp) and the stb_image formats (TGA, PNM), limited to the variants where the result is
// what Pillow 13 gives:
// - WebP: Pillow decodes through WebPAnimDecoder into non-premultiplied RGBA; the first frame of
//   a file is the plain decode. Mode RGBA when the file has alpha, RGB otherwise.
// - PNM: binary P5 (L) / P6 (RGB) with maxval 255 (others are scaled differently or not by stb).
// - TGA: uncompressed or RLE true-colour 24-bit (RGB) / 32-bit (RGBA) and 8-bit grey (L), without a
//   colour map and not right-to-left (stb expands colour maps, which Pillow keeps as mode P).
#include <algorithm>
#include <cctype>
#include <cstring>

#include <webp/decode.h>

#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_TGA
#define STBI_ONLY_PNM
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STBI_FAILURE_USERMSG
#include <stb/stb_image.h>

#include "image_internal.hpp"

namespace cuclip::img {

Status decode_webp(const uint8_t* data, size_t size, const DecodeOptions& opt, Image* out) {
  WebPBitstreamFeatures features;
  if (WebPGetFeatures(data, size, &features) != VP8_STATUS_OK) return invalid_image("corrupt or truncated WebP header");
  if (features.has_animation) return unsupported_image("animated WebP");
  const Mode mode = features.has_alpha ? Mode::RGBA : Mode::RGB;
  CUCLIP_TRY(check_and_allocate("WebP", features.width, features.height, mode, opt, out));
  const int stride = out->width * bytes_per_pixel(mode);
  const uint8_t* ok = mode == Mode::RGBA
                          ? WebPDecodeRGBAInto(data, size, out->pixels.data(), out->pixels.size(), stride)
                          : WebPDecodeRGBInto(data, size, out->pixels.data(), out->pixels.size(), stride);
  if (!ok) {
    *out = Image{};
    return invalid_image("corrupt or truncated WebP data");
  }
  return Status::Ok();
}

namespace {

// Reads the next PNM header token (skipping whitespace and # comments); -1 on malformed input.
long pnm_number(const uint8_t* d, size_t n, size_t* p) {
  while (*p < n && (std::isspace(d[*p]) || d[*p] == '#')) {
    if (d[*p] == '#') while (*p < n && d[*p] != '\n') ++*p;
    else ++*p;
  }
  long v = 0;
  size_t start = *p;
  while (*p < n && d[*p] >= '0' && d[*p] <= '9' && v < 100000000) v = v * 10 + (d[(*p)++] - '0');
  return *p == start ? -1 : v;
}

// stb_image reads past the end of its input as zeros, so a truncated file would decode as a
// partly black image, and a tiny file claiming a large image would cost the full allocation first.
// These walks check that the data holds every pixel the header promises, without allocating.

// Binary PNM: width x height x channels bytes follow the maxval's single whitespace byte (more is ignored).
bool pnm_data_complete(size_t size, size_t pixels_at, uint64_t pixels, int channels) {
  return pixels_at <= size && (size - pixels_at) / (uint64_t)channels >= pixels;
}

// TGA pixel data from `at`: raw rows, or RLE packets (a count byte, then one pixel repeated or
// `count` literal pixels). Mirrors stb's reader, which stops mid-packet at the last pixel.
bool tga_data_complete(const uint8_t* d, size_t size, size_t at, uint64_t pixels, int bpp, bool rle) {
  if (at > size) return false;
  if (!rle) return (size - at) / (uint64_t)bpp >= pixels;
  uint64_t done = 0;
  while (done < pixels) {
    if (at >= size) return false;
    const uint8_t header = d[at++];
    const uint64_t count = std::min<uint64_t>((header & 127) + 1, pixels - done);
    const uint64_t bytes = header & 128 ? (uint64_t)bpp : count * bpp;
    if (size - at < bytes) return false;
    at += bytes;
    done += count;
  }
  return true;
}

}  // namespace

Status decode_stb(Format f, const uint8_t* data, size_t size, const DecodeOptions& opt, Image* out) {
  if (size > (size_t)INT32_MAX) return Err(CUCLIP_ERR_LIMIT_EXCEEDED, "image file over 2 GiB");
  Mode mode;
  int64_t w = 0, h = 0;
  size_t pixels_at = 0;  // where the pixel data starts
  bool rle = false;
  if (f == Format::Pnm) {
    if (data[1] != '5' && data[1] != '6') return unsupported_image("PNM other than binary P5/P6");
    size_t p = 2;
    w = pnm_number(data, size, &p);
    h = pnm_number(data, size, &p);
    const long maxval = pnm_number(data, size, &p);
    if (w < 0 || h < 0 || maxval < 0) return invalid_image("corrupt PNM header");
    if (maxval != 255) return unsupported_image("PNM with maxval " + std::to_string(maxval) + " (only 255)");
    // One whitespace byte ends the header; the pixels follow it.
    if (p < size && !std::isspace(data[p])) return invalid_image("corrupt PNM header");
    pixels_at = p + 1;
    mode = data[1] == '5' ? Mode::L : Mode::RGB;
  } else {
    if (size < 18) return invalid_image("truncated TGA header");
    const int colormap = data[1], type = data[2], depth = data[16], flags = data[17];
    w = data[12] | data[13] << 8;
    h = data[14] | data[15] << 8;
    const bool truecolour = (type == 2 || type == 10) && (depth == 24 || depth == 32);
    const bool grey = (type == 3 || type == 11) && depth == 8;
    if (colormap != 0 || (flags & 0x10) || (!truecolour && !grey))
      return unsupported_image("TGA variant (only true-colour 24/32-bit and 8-bit grey, no colour map)");
    mode = (type == 3 || type == 11) ? Mode::L : depth == 24 ? Mode::RGB : Mode::RGBA;
    pixels_at = 18 + (size_t)data[0];  // after the image id (no colour map)
    rle = type == 10 || type == 11;
  }
  const char* name = f == Format::Pnm ? "PNM" : "TGA";
  // The data must hold the pixels before anything is allocated for them. Sizes over the limit are
  // left to check_and_allocate, which reports them as such.
  if (w > 0 && h > 0 && (uint64_t)w * (uint64_t)h <= opt.max_pixels) {
    const uint64_t pixels = (uint64_t)w * (uint64_t)h;
    const bool complete = f == Format::Pnm ? pnm_data_complete(size, pixels_at, pixels, bytes_per_pixel(mode))
                                           : tga_data_complete(data, size, pixels_at, pixels, bytes_per_pixel(mode), rle);
    if (!complete)
      return invalid_image(std::string("truncated ") + name + ": the data holds fewer than the " + std::to_string(w) + "x" +
                           std::to_string(h) + " pixels of the header");
  }
  CUCLIP_TRY(check_and_allocate(name, w, h, mode, opt, out));
  const int want = bytes_per_pixel(mode);
  int sw = 0, sh = 0, sc = 0;
  stbi_uc* px = stbi_load_from_memory(data, (int)size, &sw, &sh, &sc, want);
  if (!px) {
    *out = Image{};
    return invalid_image(std::string("corrupt or truncated ") + name + ": " + stbi_failure_reason());
  }
  if (sw != out->width || sh != out->height) {
    stbi_image_free(px);
    *out = Image{};
    return invalid_image("image header and data disagree on the size");
  }
  std::memcpy(out->pixels.data(), px, out->pixels.size());
  stbi_image_free(px);
  return Status::Ok();
}

}  // namespace cuclip::img
