// PNG via libpng, giving the modes and values Pillow 13's PngImagePlugin gives:
//   gray 1 -> "1" (0/255), gray 2/4 -> L (scaled x85 / x17), gray 8 -> L, gray 16 -> I;16 (full value),
//   RGB 8 -> RGB, RGB 16 -> RGB (high byte), palette 1/2/4/8 -> P, gray+alpha 8 -> LA,
//   gray+alpha 16 -> RGBA (high bytes, gray replicated), RGBA 8/16 -> RGBA (high bytes).
// tRNS becomes info["transparency"]: palette alphas for P, the keyed raw sample value otherwise
// (Pillow compares it unscaled, also for 2/4-bit gray). No gamma / sBIT / colour management, as Pillow.
// Interlaced images are de-interlaced. A truncated stream is an error. The IHDR size is checked
// against max_pixels before the pixel buffer exists.
#include <csetjmp>
#include <cstring>

#include <png.h>

#include "image_internal.hpp"

namespace cuclip::img {
namespace {

struct Reader {
  const uint8_t* data;
  size_t size, pos;
  char message[256];
};

void read_bytes(png_structp png, png_bytep dst, png_size_t n) {
  auto* r = static_cast<Reader*>(png_get_io_ptr(png));
  if (n > r->size - r->pos) png_error(png, "truncated PNG (data ends early)");
  std::memcpy(dst, r->data + r->pos, n);
  r->pos += n;
}

void on_error(png_structp png, png_const_charp msg) {
  auto* r = static_cast<Reader*>(png_get_error_ptr(png));
  std::snprintf(r->message, sizeof r->message, "%s", msg);
  png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}

Status run(png_structp png, png_infop info, Reader* reader, const DecodeOptions& opt, Image* out,
           std::vector<uint8_t>* raw, std::vector<png_bytep>* rows) {
  if (setjmp(png_jmpbuf(png))) return invalid_image(std::string("corrupt PNG: ") + reader->message);
  png_set_read_fn(png, reader, read_bytes);
  png_set_user_limits(png, 0x7fffffff, 0x7fffffff);  // our max_pixels check decides
  png_read_info(png, info);
  png_uint_32 w = 0, h = 0;
  int depth = 0, color = 0, interlace = 0;
  png_get_IHDR(png, info, &w, &h, &depth, &color, &interlace, nullptr, nullptr);
  Mode mode;
  switch (color) {
    case PNG_COLOR_TYPE_GRAY: mode = depth == 1 ? Mode::Bit1 : depth == 16 ? Mode::I16 : Mode::L; break;
    case PNG_COLOR_TYPE_RGB: mode = Mode::RGB; break;
    case PNG_COLOR_TYPE_PALETTE: mode = Mode::P; break;
    case PNG_COLOR_TYPE_GRAY_ALPHA: mode = depth == 16 ? Mode::RGBA : Mode::LA; break;
    case PNG_COLOR_TYPE_RGB_ALPHA: mode = Mode::RGBA; break;
    default: return invalid_image("PNG with unknown colour type " + std::to_string(color));
  }
  {
    Status s = check_and_allocate("PNG", w, h, mode, opt, out);
    if (!s.ok()) return s;
  }
  if (mode == Mode::P) {
    png_colorp plte = nullptr;
    int n = 0;
    if (png_get_PLTE(png, info, &plte, &n) && plte) {
      out->palette_size = n;
      for (int i = 0; i < n; ++i) {
        out->palette[i * 4 + 0] = plte[i].red;
        out->palette[i * 4 + 1] = plte[i].green;
        out->palette[i * 4 + 2] = plte[i].blue;
      }
    }
    for (int i = 0; i < 256; ++i) out->palette[i * 4 + 3] = 255;
  }
  if (png_get_valid(png, info, PNG_INFO_tRNS)) {
    png_bytep alphas = nullptr;
    int n_alpha = 0;
    png_color_16p key = nullptr;
    png_get_tRNS(png, info, &alphas, &n_alpha, &key);
    out->has_transparency = true;
    if (mode == Mode::P) {
      for (int i = 0; i < n_alpha && i < 256; ++i) out->palette[i * 4 + 3] = alphas[i];
    } else if (key && (color == PNG_COLOR_TYPE_GRAY)) {
      out->transparent_color[0] = mode == Mode::Bit1 ? (key->gray ? 255 : 0) : key->gray;
    } else if (key && color == PNG_COLOR_TYPE_RGB) {
      out->transparent_color = {key->red, key->green, key->blue};
    } else {
      out->has_transparency = false;
    }
  }
  if (depth < 8) png_set_packing(png);  // one byte per sample (palette indices stay indices)
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (interlace != PNG_INTERLACE_NONE) png_set_interlace_handling(png);
  png_read_update_info(png, info);
  const size_t row_bytes = png_get_rowbytes(png, info);
  const bool direct = depth <= 8 && row_bytes == (size_t)out->width * bytes_per_pixel(mode);
  if (!direct) raw->resize(row_bytes * h);
  rows->resize(h);
  for (png_uint_32 y = 0; y < h; ++y)
    (*rows)[y] = direct ? out->pixels.data() + row_bytes * y : raw->data() + row_bytes * y;
  png_read_image(png, rows->data());
  if (direct) return Status::Ok();
  // 16-bit samples (big-endian in the file): I;16 keeps the value, the other modes the high byte.
  const int ch = png_get_channels(png, info);
  for (png_uint_32 y = 0; y < h; ++y) {
    const uint8_t* s = raw->data() + row_bytes * y;
    uint8_t* d = out->pixels.data() + (size_t)y * out->width * bytes_per_pixel(mode);
    for (png_uint_32 x = 0; x < w; ++x, s += 2 * ch) {
      if (mode == Mode::I16) {
        const uint16_t v = (uint16_t)(s[0] << 8 | s[1]);
        std::memcpy(d, &v, 2);
        d += 2;
      } else if (color == PNG_COLOR_TYPE_GRAY_ALPHA) {
        d[0] = d[1] = d[2] = s[0];
        d[3] = s[2];
        d += 4;
      } else {
        for (int c = 0; c < ch; ++c) *d++ = s[2 * c];
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Status decode_png(const uint8_t* data, size_t size, const DecodeOptions& opt, Image* out) {
  Reader reader{data, size, 0, {0}};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &reader, on_error, on_warning);
  if (!png) return Err(CUCLIP_ERR_OUT_OF_MEMORY, "libpng: cannot create a read struct");
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    return Err(CUCLIP_ERR_OUT_OF_MEMORY, "libpng: cannot create an info struct");
  }
  std::vector<uint8_t> raw;
  std::vector<png_bytep> rows;
  Status s = run(png, info, &reader, opt, out, &raw, &rows);
  png_destroy_read_struct(&png, &info, nullptr);
  if (!s.ok()) *out = Image{};
  return s;
}

}  // namespace cuclip::img
