// Decoding entry points: format sniffing, the pixel-count guard, file reading, caller pixels,
// and EXIF orientation (ImageOps.exif_transpose) for JPEG / PNG / WebP.
#include <climits>
#include <cstring>
#include <new>

#include "base/checked.hpp"
#include "base/file.hpp"
#include "image_internal.hpp"

namespace cuclip::img {

Format sniff_format(const uint8_t* d, size_t n) {
  auto starts = [&](const char* magic, size_t len) { return n >= len && std::memcmp(d, magic, len) == 0; };
  if (starts("\xFF\xD8\xFF", 3)) return Format::Jpeg;
  if (starts("\x89PNG\r\n\x1A\n", 8)) return Format::Png;
  if (starts("GIF87a", 6) || starts("GIF89a", 6)) return Format::Gif;
  if (starts("BM", 2) && n >= 18) return Format::Bmp;
  if (n >= 12 && starts("RIFF", 4) && std::memcmp(d + 8, "WEBP", 4) == 0) return Format::WebP;
  if (n >= 2 && d[0] == 'P' && d[1] >= '1' && d[1] <= '6') return Format::Pnm;
  return Format::Unknown;
}

Status check_and_allocate(const char* format, int64_t width, int64_t height, Mode m, const DecodeOptions& opt,
                          Image* out) {
  if (width <= 0 || height <= 0)
    return invalid_image(std::string(format) + " header gives a zero or negative size (" + std::to_string(width) +
                         "x" + std::to_string(height) + ")");
  uint64_t pixels = 0, bytes = 0;
  if (!checked_mul((uint64_t)width, (uint64_t)height, &pixels) || pixels > opt.max_pixels)
    return Err(CUCLIP_ERR_LIMIT_EXCEEDED, std::string(format) + " image is " + std::to_string(width) + "x" +
                                              std::to_string(height) + " pixels, over the limit of " +
                                              std::to_string(opt.max_pixels) + " (DecodeOptions::max_pixels)");
  if (width > INT_MAX / 8 || height > INT_MAX / 8 || !checked_mul(pixels, (uint64_t)bytes_per_pixel(m), &bytes) ||
      bytes > (uint64_t)PTRDIFF_MAX)
    return Err(CUCLIP_ERR_LIMIT_EXCEEDED, std::string(format) + " image dimensions too large");
  try {
    out->pixels.assign(bytes, 0);
  } catch (const std::bad_alloc&) {
    return Err(CUCLIP_ERR_OUT_OF_MEMORY, std::string(format) + ": cannot allocate " + std::to_string(bytes) +
                                             " bytes for the pixels");
  }
  out->width = (int)width;
  out->height = (int)height;
  out->mode = m;
  return Status::Ok();
}

namespace {

Status decode_any(const uint8_t* data, size_t size, const DecodeOptions& opt, const Preset* preset, Image* out) {
  if (!out) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "decode_memory: out is NULL");
  *out = Image{};
  if (!data || size == 0) return invalid_image("empty image data (0 bytes)");
  const Format f = sniff_format(data, size);
  Image im;
  Status s;
  try {
    switch (f) {
      case Format::Jpeg: s = decode_jpeg(data, size, opt, opt.apply_exif_orientation ? nullptr : preset, &im); break;
      case Format::Png: s = decode_png(data, size, opt, &im); break;
      case Format::Gif: s = decode_gif(data, size, opt, &im); break;
      case Format::Bmp: s = decode_bmp(data, size, opt, &im); break;
      case Format::WebP: s = decode_webp(data, size, opt, &im); break;
      case Format::Pnm: s = decode_stb(f, data, size, opt, &im); break;
      default:
        // TGA has no magic number: try it last, and only as TGA (stb checks the header fields).
        s = decode_stb(Format::Tga, data, size, opt, &im);
        // A header stb does not take as TGA means no known format; a TGA header with too little data
        // after it stays what it is, a truncated image (INVALID_IMAGE).
        if (s.code == CUCLIP_ERR_UNSUPPORTED_IMAGE)
          s = unsupported_image("not a recognized image format (JPEG, PNG, GIF, BMP, WebP, TGA, PNM)");
        break;
    }
  } catch (const std::bad_alloc&) {
    s = Err(CUCLIP_ERR_OUT_OF_MEMORY, "out of memory while decoding the image");
  }
  if (!s.ok()) return s;
  if (opt.apply_exif_orientation) {
    const int o = exif_orientation(f, data, size);
    if (o >= 2 && o <= 8) apply_orientation(o, &im);
  }
  *out = std::move(im);
  return Status::Ok();
}

}  // namespace

Status decode_memory(const uint8_t* data, size_t size, const DecodeOptions& opt, Image* out) {
  return decode_any(data, size, opt, nullptr, out);
}

Status decode_memory_for_preset(const uint8_t* data, size_t size, const DecodeOptions& opt, const Preset& preset,
                                Image* out) {
  return decode_any(data, size, opt, &preset, out);
}

Status decode_file(const std::string& path, const DecodeOptions& opt, Image* out) {
  if (!out) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "decode_file: out is NULL");
  *out = Image{};
  std::vector<uint8_t> bytes;
  constexpr uint64_t kMaxFileBytes = 1ull << 31;
  Status s = read_file(path, kMaxFileBytes, &bytes);
  if (!s.ok()) return s;
  s = decode_memory(bytes.data(), bytes.size(), opt, out);
  if (!s.ok()) s.message = path + ": " + s.message;
  return s;
}

Status from_pixels(const uint8_t* pixels, int width, int height, int stride, int channels, Image* out) {
  if (!out) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "from_pixels: out is NULL");
  *out = Image{};
  if (!pixels) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "from_pixels: pixels is NULL");
  if (width <= 0 || height <= 0) return invalid_image("from_pixels: zero or negative size");
  if (channels != 1 && channels != 3 && channels != 4)
    return Err(CUCLIP_ERR_INVALID_ARGUMENT, "from_pixels: channels must be 1, 3 or 4, got " + std::to_string(channels));
  const Mode m = channels == 1 ? Mode::L : channels == 3 ? Mode::RGB : Mode::RGBA;
  const size_t row_bytes = (size_t)width * channels;
  if (stride == 0) stride = (int)row_bytes;
  if (stride < 0 || (size_t)stride < row_bytes)
    return Err(CUCLIP_ERR_INVALID_ARGUMENT, "from_pixels: stride smaller than width * channels");
  DecodeOptions unlimited;
  unlimited.max_pixels = UINT64_MAX;
  CUCLIP_TRY(check_and_allocate("pixels", width, height, m, unlimited, out));
  for (int y = 0; y < height; ++y) std::memcpy(out->pixels.data() + y * row_bytes, pixels + (size_t)y * stride, row_bytes);
  return Status::Ok();
}

// --- EXIF orientation ----------------------------------------------------------------------------

namespace {

// Orientation tag (0x0112) of IFD0 in a TIFF-structured EXIF block; 1 when absent or malformed.
int tiff_orientation(const uint8_t* t, size_t n) {
  if (n < 8) return 1;
  const bool le = t[0] == 'I' && t[1] == 'I';
  if (!le && !(t[0] == 'M' && t[1] == 'M')) return 1;
  auto u16 = [&](size_t o) -> unsigned { return le ? t[o] | t[o + 1] << 8 : t[o] << 8 | t[o + 1]; };
  auto u32 = [&](size_t o) -> uint64_t { return le ? (uint64_t)u16(o) | (uint64_t)u16(o + 2) << 16 : (uint64_t)u16(o) << 16 | u16(o + 2); };
  const uint64_t ifd = u32(4);
  if (ifd + 2 > n) return 1;
  const unsigned count = u16(ifd);
  for (unsigned i = 0; i < count; ++i) {
    const uint64_t e = ifd + 2 + 12ull * i;
    if (e + 12 > n) return 1;
    if (u16(e) == 0x0112 && u16(e + 2) == 3) return (int)u16(e + 8);
  }
  return 1;
}

}  // namespace

int exif_orientation(Format f, const uint8_t* d, size_t n) {
  if (f == Format::Jpeg) {
    size_t p = 2;
    while (p + 4 <= n && d[p] == 0xFF) {
      const unsigned marker = d[p + 1];
      if (marker == 0xDA || marker == 0xD9) break;  // image data: no more metadata
      const size_t len = (size_t)d[p + 2] << 8 | d[p + 3];
      if (len < 2 || p + 2 + len > n) break;
      if (marker == 0xE1 && len >= 8 && std::memcmp(d + p + 4, "Exif\0\0", 6) == 0)
        return tiff_orientation(d + p + 10, len - 8);
      p += 2 + len;
    }
  } else if (f == Format::Png) {
    size_t p = 8;
    while (p + 12 <= n) {
      const size_t len = (size_t)d[p] << 24 | (size_t)d[p + 1] << 16 | (size_t)d[p + 2] << 8 | d[p + 3];
      if (len > n - p - 12) break;
      if (std::memcmp(d + p + 4, "eXIf", 4) == 0) return tiff_orientation(d + p + 8, len);
      if (std::memcmp(d + p + 4, "IDAT", 4) == 0) break;
      p += 12 + len;
    }
  } else if (f == Format::WebP) {
    size_t p = 12;
    while (p + 8 <= n) {
      const size_t len = d[p + 4] | (size_t)d[p + 5] << 8 | (size_t)d[p + 6] << 16 | (size_t)d[p + 7] << 24;
      if (len > n - p - 8) break;
      if (std::memcmp(d + p, "EXIF", 4) == 0) {
        const uint8_t* t = d + p + 8;
        size_t tl = len;
        if (tl >= 6 && std::memcmp(t, "Exif\0\0", 6) == 0) { t += 6; tl -= 6; }
        return tiff_orientation(t, tl);
      }
      p += 8 + len + (len & 1);
    }
  }
  return 1;
}

void apply_orientation(int o, Image* im) {
  const int w = im->width, h = im->height, bpp = bytes_per_pixel(im->mode);
  const bool swap = o >= 5;  // transpose, rotate 270, transverse, rotate 90 exchange the sides
  const int ow = swap ? h : w, oh = swap ? w : h;
  std::vector<uint8_t> out((size_t)ow * oh * bpp);
  for (int y = 0; y < oh; ++y) {
    for (int x = 0; x < ow; ++x) {
      int sx = x, sy = y;
      switch (o) {
        case 2: sx = w - 1 - x; break;                    // FLIP_LEFT_RIGHT
        case 3: sx = w - 1 - x; sy = h - 1 - y; break;    // ROTATE_180
        case 4: sy = h - 1 - y; break;                    // FLIP_TOP_BOTTOM
        case 5: sx = y; sy = x; break;                    // TRANSPOSE
        case 6: sx = y; sy = h - 1 - x; break;            // ROTATE_270 (clockwise)
        case 7: sx = w - 1 - y; sy = h - 1 - x; break;    // TRANSVERSE
        case 8: sx = w - 1 - y; sy = x; break;            // ROTATE_90 (counter-clockwise)
      }
      std::memcpy(&out[((size_t)y * ow + x) * bpp], &im->pixels[((size_t)sy * w + sx) * bpp], bpp);
    }
  }
  im->pixels = std::move(out);
  im->width = ow;
  im->height = oh;
}

}  // namespace cuclip::img
