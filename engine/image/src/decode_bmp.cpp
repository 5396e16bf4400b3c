// Windows BMP as Pillow 13's BmpImagePlugin opens it, for the layouts cuclip supports:
// uncompressed 1/4/8-bit palette images (mode P; "1" when the 2-colour palette is black/white,
// L when the palette is the identity grey ramp), 24-bit (RGB), 32-bit (RGB, the 4th byte ignored)
// and 32-bit BITFIELDS with an alpha mask (RGBA). Rows are bottom-up unless the height is negative.
// RLE-compressed, 16-bit and other bitfield layouts are refused as unsupported.
#include <cstring>

#include "image_internal.hpp"

namespace cuclip::img {
namespace {

uint32_t le32(const uint8_t* p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
uint16_t le16(const uint8_t* p) { return (uint16_t)(p[0] | p[1] << 8); }

}  // namespace

Status decode_bmp(const uint8_t* d, size_t n, const DecodeOptions& opt, Image* out) {
  if (n < 26) return invalid_image("truncated BMP header");
  const uint32_t pixel_offset = le32(d + 10);
  const uint32_t header_size = le32(d + 14);
  if (header_size != 40 && header_size != 52 && header_size != 56 && header_size != 108 && header_size != 124)
    return unsupported_image("BMP header type " + std::to_string(header_size) + " (only BITMAPINFOHEADER and later)");
  if (n < 14 + (size_t)header_size) return invalid_image("truncated BMP header");
  const uint8_t* h = d + 14;
  const int64_t width = (int32_t)le32(h + 4);
  const int64_t raw_height = (int32_t)le32(h + 8);
  const int bits = le16(h + 14);
  const uint32_t compression = le32(h + 16);
  uint32_t colors = le32(h + 32);
  const bool top_down = raw_height < 0;
  const int64_t height = top_down ? -raw_height : raw_height;
  Mode mode;
  bool alpha = false;
  if (compression == 0) {
    if (bits == 1 || bits == 4 || bits == 8) mode = Mode::P;
    else if (bits == 24 || bits == 32) mode = Mode::RGB;
    else return unsupported_image("BMP with " + std::to_string(bits) + " bits per pixel");
  } else if (compression == 3 && bits == 32) {
    // Masks follow a 40-byte header, or live inside a V2+ header.
    const uint8_t* m = header_size == 40 ? h + 40 : h + 40;
    if (n < (size_t)(m - d) + 16) return invalid_image("truncated BMP bitfields");
    const uint32_t r = le32(m), g = le32(m + 4), b = le32(m + 8), a = header_size >= 56 ? le32(m + 12) : 0;
    if (r == 0xFF0000 && g == 0xFF00 && b == 0xFF && a == 0xFF000000) { mode = Mode::RGBA; alpha = true; }
    else if (r == 0xFF0000 && g == 0xFF00 && b == 0xFF && a == 0) mode = Mode::RGB;
    else return unsupported_image("BMP bitfield layout other than BGRA / BGRX");
  } else {
    return unsupported_image("compressed BMP (compression " + std::to_string(compression) + ")");
  }
  if (mode == Mode::P) {
    if (colors == 0) colors = 1u << bits;
    if (colors > 256) return unsupported_image("BMP palette with more than 256 colours");
    const size_t pal_at = 14 + (size_t)header_size;
    if (n < pal_at + 4 * (size_t)colors) return invalid_image("truncated BMP palette");
    bool grey = true;
    for (uint32_t i = 0; i < colors; ++i) {
      const uint8_t* e = d + pal_at + 4 * i;  // B, G, R, reserved
      out->palette[i * 4 + 0] = e[2];
      out->palette[i * 4 + 1] = e[1];
      out->palette[i * 4 + 2] = e[0];
      const unsigned want = colors == 2 ? (i ? 255 : 0) : i;
      if (e[0] != want || e[1] != want || e[2] != want) grey = false;
    }
    for (int i = 0; i < 256; ++i) out->palette[i * 4 + 3] = 255;
    out->palette_size = (int)colors;
    if (grey) mode = colors <= 2 ? Mode::Bit1 : Mode::L;
  }
  const std::array<uint8_t, 1024> palette = out->palette;
  const int palette_size = out->palette_size;
  // The pixel data must be in the file before anything is allocated for it, so a tiny file
  // claiming a huge image costs nothing; sizes over the limit are left to check_and_allocate (which
  // reports LIMIT_EXCEEDED), and so is a zero or negative size.
  if (width > 0 && height > 0 && (uint64_t)width * (uint64_t)height <= opt.max_pixels) {
    const uint64_t row_bytes = ((uint64_t)width * bits + 31) / 32 * 4;
    if (pixel_offset > n || row_bytes * (uint64_t)height > n - pixel_offset) return invalid_image("truncated BMP pixel data");
  }
  CUCLIP_TRY(check_and_allocate("BMP", width, height, mode, opt, out));
  if (mode == Mode::P) {
    out->palette = palette;
    out->palette_size = palette_size;
  }
  const uint64_t stride = ((uint64_t)width * bits + 31) / 32 * 4;
  if (pixel_offset > n || stride * height > n - pixel_offset) {
    *out = Image{};
    return invalid_image("truncated BMP pixel data");
  }
  const int bpp = bytes_per_pixel(mode);
  for (int64_t y = 0; y < height; ++y) {
    const uint8_t* s = d + pixel_offset + stride * (top_down ? y : height - 1 - y);
    uint8_t* o = out->pixels.data() + (size_t)y * width * bpp;
    for (int64_t x = 0; x < width; ++x) {
      if (bits <= 8) {
        const int per_byte = 8 / bits;
        const int shift = 8 - bits * (int)(x % per_byte + 1);
        uint8_t v = (uint8_t)((s[x / per_byte] >> shift) & ((1 << bits) - 1));
        if (mode == Mode::Bit1) v = v ? 255 : 0;
        o[x] = v;
      } else {
        const uint8_t* p = s + x * (bits / 8);
        o[x * bpp + 0] = p[2];
        o[x * bpp + 1] = p[1];
        o[x * bpp + 2] = p[0];
        if (alpha) o[x * bpp + 3] = p[3];
      }
    }
  }
  return Status::Ok();
}

}  // namespace cuclip::img
