// Internal helpers shared by cuclip_image's decoders and preprocessing: error constructors, the
// header-size check every decoder runs before allocating, per-format entry points, crop/pad.
#pragma once
#include <cstdint>
#include <string>

#include "cuclip/image.hpp"

namespace cuclip::img {

inline Status invalid_image(const std::string& what) { return Err(CUCLIP_ERR_INVALID_IMAGE, what); }
inline Status unsupported_image(const std::string& what) { return Err(CUCLIP_ERR_UNSUPPORTED_IMAGE, what); }

// Validates header dimensions (non-zero, <= max_pixels, byte size fits) before any allocation,
// then sizes *out (pixels uninitialized-zero) for width x height in mode m.
Status check_and_allocate(const char* format, int64_t width, int64_t height, Mode m,
                          const DecodeOptions& opt, Image* out);

// Source pixels a preset reads: columns [x0, x1) and rows [y0, y1) of the decoded image.
struct SourceWindow {
  int x0 = 0, x1 = 0, y0 = 0, y1 = 0;
};
// The window `p` reads from a width x height image (the whole image when unsure, e.g. NEAREST).
SourceWindow source_window_for_preset(int width, int height, const Preset& p);
// The source window Image.resize((out_w, out_h)) reads to produce output [x0, x1) x [y0, y1).
SourceWindow resize_source_window(int in_w, int in_h, int out_w, int out_h, Interp interp, int x0, int y0, int x1,
                                  int y1);

// ResamplePlan taps of one axis of Image.resize(in_size -> out_size) for outputs [o0, o1), source
// positions relative to src0; one exact tap per output when the size does not change.
void plan_axis_taps(int in_size, int out_size, Interp interp, int o0, int o1, int src0, ResamplePlan::Taps* out);

// `preset` (may be NULL): decode only what that preset reads; other pixels are left 0.
Status decode_jpeg(const uint8_t* data, size_t size, const DecodeOptions& opt, const Preset* preset, Image* out);
Status decode_png(const uint8_t* data, size_t size, const DecodeOptions& opt, Image* out);
Status decode_gif(const uint8_t* data, size_t size, const DecodeOptions& opt, Image* out);
Status decode_bmp(const uint8_t* data, size_t size, const DecodeOptions& opt, Image* out);
Status decode_webp(const uint8_t* data, size_t size, const DecodeOptions& opt, Image* out);
Status decode_stb(Format f, const uint8_t* data, size_t size, const DecodeOptions& opt, Image* out);

// EXIF orientation (1..8) from a JPEG APP1 / PNG eXIf / WebP EXIF payload; 1 when absent.
int exif_orientation(Format f, const uint8_t* data, size_t size);
// ImageOps.exif_transpose's pixel operation for orientation o (1..8).
void apply_orientation(int o, Image* im);

// Pillow's crop with a window that may reach outside the image: out[y][x] = in[y + top][x + left]
// where inside, `fill` in every byte of the pixel elsewhere (palette index for P).
void crop_or_pad(const Image& in, int left, int top, int w, int h, int fill, Image* out);

}  // namespace cuclip::img
