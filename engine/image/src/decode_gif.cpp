// GIF, first frame, as Pillow 13's GifImagePlugin opens it:
// - mode P with the frame's palette (local, else global), or L when that palette is the identity
//   grey ramp (entry i == (i, i, i)) or absent;
// - the canvas is max(logical screen, frame extent), filled with the transparent index when the
//   frame has one (info["transparency"]), else 0, and the frame is decoded into its rectangle;
// - palette entries beyond the table are black, as in Pillow.
// The LZW decoder is our own. Data that ends before the image is complete (no block terminator)
// is an error; an early end-of-information code leaves the rest as the background.
#include <cstring>

#include "image_internal.hpp"

namespace cuclip::img {
namespace {

struct Cursor {
  const uint8_t* d;
  size_t n, p;
  bool has(size_t k) const { return k <= n - p; }
};

bool identity_grey(const uint8_t* pal, int entries) {
  for (int i = 0; i < entries; ++i)
    if (pal[3 * i] != i || pal[3 * i + 1] != i || pal[3 * i + 2] != i) return false;
  return true;
}

// Decodes the LZW stream in sub-blocks at c into `indices` (w*h, row order as stored).
Status lzw_decode(Cursor* c, int min_code_size, std::vector<uint8_t>* indices, size_t n_pixels) {
  if (min_code_size < 1 || min_code_size > 11) return invalid_image("GIF: bad LZW minimum code size");
  const int clear = 1 << min_code_size, eoi = clear + 1;
  std::vector<uint16_t> prefix(4096);
  std::vector<uint8_t> suffix(4096), stack(4097);
  for (int i = 0; i < clear; ++i) suffix[i] = (uint8_t)i;
  int code_size = min_code_size + 1, next = eoi + 1, prev = -1;
  uint8_t first = 0;
  uint32_t bits = 0;
  int n_bits = 0;
  size_t out = 0;
  bool done = false;
  while (true) {
    if (!c->has(1)) return invalid_image("truncated GIF: image data ends without a block terminator");
    const size_t len = c->d[c->p++];
    if (len == 0) break;
    if (!c->has(len)) return invalid_image("truncated GIF: image data block cut short");
    const uint8_t* blk = c->d + c->p;
    c->p += len;
    for (size_t i = 0; i < len && !done; ++i) {
      bits |= (uint32_t)blk[i] << n_bits;
      n_bits += 8;
      while (n_bits >= code_size && !done) {
        const int code = (int)(bits & ((1u << code_size) - 1));
        bits >>= code_size;
        n_bits -= code_size;
        if (code == clear) {
          code_size = min_code_size + 1;
          next = eoi + 1;
          prev = -1;
          continue;
        }
        if (code == eoi) { done = true; break; }
        int cur = code, sp = 0;
        if (prev < 0) {
          if (code >= clear) return invalid_image("GIF: corrupt LZW data (bad first code)");
        } else if (code > next || (code == next && next >= 4096)) {
          return invalid_image("GIF: corrupt LZW data (code out of range)");
        }
        if (prev >= 0 && code == next) {  // the KwKwK case: prev's string + its first byte
          stack[sp++] = first;
          cur = prev;
        }
        while (cur >= clear) {
          stack[sp++] = suffix[cur];
          cur = prefix[cur];
        }
        stack[sp++] = suffix[cur];
        first = suffix[cur];
        while (sp > 0 && out < n_pixels) (*indices)[out++] = stack[--sp];
        if (prev >= 0 && next < 4096) {
          prefix[next] = (uint16_t)prev;
          suffix[next] = first;
          ++next;
          if (next == (1 << code_size) && code_size < 12) ++code_size;
        }
        prev = code;
        if (out >= n_pixels) done = true;
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Status decode_gif(const uint8_t* data, size_t size, const DecodeOptions& opt, Image* out) {
  Cursor c{data, size, 0};
  if (!c.has(13)) return invalid_image("truncated GIF header");
  const int screen_w = data[6] | data[7] << 8, screen_h = data[8] | data[9] << 8;
  const uint8_t flags = data[10];
  c.p = 13;
  uint8_t global[768] = {0};
  int global_entries = 0;
  if (flags & 0x80) {
    global_entries = 2 << (flags & 7);
    if (!c.has(3 * (size_t)global_entries)) return invalid_image("truncated GIF global colour table");
    std::memcpy(global, data + c.p, 3 * global_entries);
    c.p += 3 * global_entries;
  }
  int transparency = -1;
  while (true) {
    if (!c.has(1)) return invalid_image("GIF has no image");
    const uint8_t tag = data[c.p++];
    if (tag == 0x3B) return invalid_image("GIF has no image");
    if (tag == 0x21) {  // extension: graphic control (0xF9) carries the transparent index
      if (!c.has(1)) return invalid_image("truncated GIF extension");
      const uint8_t label = data[c.p++];
      bool first_block = true;
      while (true) {
        if (!c.has(1)) return invalid_image("truncated GIF extension");
        const size_t len = data[c.p++];
        if (len == 0) break;
        if (!c.has(len)) return invalid_image("truncated GIF extension");
        if (label == 0xF9 && first_block && len >= 4) transparency = (data[c.p] & 1) ? data[c.p + 3] : -1;
        first_block = false;
        c.p += len;
      }
      continue;
    }
    if (tag != 0x2C) return invalid_image("corrupt GIF: unexpected block 0x" + std::to_string(tag));
    break;
  }
  if (!c.has(10)) return invalid_image("truncated GIF image descriptor");
  const uint8_t* desc = data + c.p;
  const int x0 = desc[0] | desc[1] << 8, y0 = desc[2] | desc[3] << 8;
  const int fw = desc[4] | desc[5] << 8, fh = desc[6] | desc[7] << 8;
  const uint8_t iflags = desc[8];
  c.p += 9;
  const uint8_t* pal = nullptr;
  int entries = 0;
  uint8_t local[768];
  if (iflags & 0x80) {
    entries = 2 << (iflags & 7);
    if (!c.has(3 * (size_t)entries)) return invalid_image("truncated GIF local colour table");
    std::memcpy(local, data + c.p, 3 * entries);
    c.p += 3 * entries;
    pal = local;
  } else if (global_entries) {
    pal = global;
    entries = global_entries;
  }
  const bool palette_mode = pal && !identity_grey(pal, entries);
  const int w = std::max(screen_w, x0 + fw), h = std::max(screen_h, y0 + fh);
  CUCLIP_TRY(check_and_allocate("GIF", w, h, palette_mode ? Mode::P : Mode::L, opt, out));
  if (transparency >= 0) {
    std::fill(out->pixels.begin(), out->pixels.end(), (uint8_t)transparency);
    out->has_transparency = true;
    out->transparent_color[0] = (uint16_t)transparency;
  }
  if (palette_mode) {
    out->palette_size = entries;
    for (int i = 0; i < 256; ++i) {
      for (int k = 0; k < 3; ++k) out->palette[i * 4 + k] = i < entries ? pal[3 * i + k] : 0;
      out->palette[i * 4 + 3] = (i == transparency) ? 0 : 255;
    }
  }
  if (!c.has(1)) return invalid_image("truncated GIF image data");
  const int min_code_size = data[c.p++];
  const size_t n_pixels = (size_t)fw * fh;
  if (n_pixels == 0) return Status::Ok();
  std::vector<uint8_t> idx;
  uint64_t frame_pixels = n_pixels;
  if (frame_pixels > opt.max_pixels) return Err(CUCLIP_ERR_LIMIT_EXCEEDED, "GIF frame over max_pixels");
  idx.assign(n_pixels, transparency >= 0 ? (uint8_t)transparency : 0);
  Status s = lzw_decode(&c, min_code_size, &idx, n_pixels);
  if (!s.ok()) {
    *out = Image{};
    return s;
  }
  // Rows as stored; interlaced frames store rows 0,8,16.. then 4,12.. then 2,6.. then 1,3,5..
  const bool interlaced = iflags & 0x40;
  int src_row = 0;
  auto place = [&](int y) {
    std::memcpy(out->pixels.data() + (size_t)(y0 + y) * w + x0, idx.data() + (size_t)src_row * fw, fw);
    ++src_row;
  };
  if (!interlaced) {
    for (int y = 0; y < fh; ++y) place(y);
  } else {
    static const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
    for (int pass = 0; pass < 4; ++pass)
      for (int y = start[pass]; y < fh; y += step[pass]) place(y);
  }
  return Status::Ok();
}

}  // namespace cuclip::img
