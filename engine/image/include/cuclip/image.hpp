// cuclip image input: decoding (JPEG, PNG, GIF, BMP, WebP, TGA, PNM) and CLIP preprocessing that
// reproduce what Pillow 13 + torchvision (openai/open_clip) or Pillow + transformers'
// CLIPImageProcessor (slow, PIL backend) feed the model, byte for byte.
//
//   cuclip::img::Image im;
//   CUCLIP_TRY(cuclip::img::decode_file("cat.jpg", {}, &im));     // what Image.open(...) holds
//   cuclip::img::Preset p;                                         // openai ViT-B/32 @ 224
//   std::vector<float> x(3 * p.size * p.size);
//   CUCLIP_TRY(cuclip::img::preprocess(im, p, x.data()));           // normalized CHW float32
//
// Threading: every function is reentrant; preprocess_files runs its own pool.
// docs/images.md describes the pipelines, the decoder settings and what is version-dependent.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.hpp"

namespace cuclip::img {

// The pixel layouts Pillow gives after Image.open for the formats cuclip decodes.
enum class Mode {
  L,     // 8-bit gray, 1 byte per pixel
  LA,    // gray + alpha, 2 bytes
  RGB,   // 3 bytes
  RGBA,  // 4 bytes, straight (not premultiplied) alpha
  P,     // palette index, 1 byte; colours in Image::palette
  I16,   // Pillow "I;16": 16-bit gray, one uint16_t per pixel in host byte order
  CMYK,  // 4 bytes, Pillow's convention (0 = no ink; Adobe-inverted JPEGs are un-inverted)
  Bit1,  // Pillow "1": bilevel, stored as one byte per pixel, 0 or 255
};

int bytes_per_pixel(Mode m);
const char* mode_name(Mode m);  // Pillow's name: "L", "LA", "RGB", "RGBA", "P", "I;16", "CMYK", "1"

struct Image {
  int width = 0, height = 0;
  Mode mode = Mode::RGB;
  std::vector<uint8_t> pixels;  // row-major, width * bytes_per_pixel(mode) bytes per row, no padding
  // Mode P: 256 RGBA entries. Entries past palette_size are (0, 0, 0, 255) as in Pillow; the alpha
  // column holds the transparency Pillow derives from tRNS / the GIF transparent index.
  std::array<uint8_t, 256 * 4> palette{};
  int palette_size = 0;
  // Pillow's info["transparency"] is present (PNG tRNS, GIF transparent index). For L, I16, Bit1 and
  // RGB the keyed colour is transparent_color[0] (gray) or [0..2] (RGB); for P see palette alpha.
  bool has_transparency = false;
  std::array<uint16_t, 3> transparent_color{};
  const uint8_t* row(int y) const { return pixels.data() + (size_t)y * width * bytes_per_pixel(mode); }
};

struct DecodeOptions {
  uint64_t max_pixels = 89478485;        // width*height cap, checked on the header before allocating
  bool apply_exif_orientation = false;   // ImageOps.exif_transpose (transformers' load_image does it)
};

enum class Format { Unknown, Jpeg, Png, Gif, Bmp, WebP, Tga, Pnm };
// Recognizes the format from the first bytes (TGA, which has no magic, is never guessed).
Format sniff_format(const uint8_t* data, size_t size);

// CUCLIP_ERR_IO (unreadable file), CUCLIP_ERR_INVALID_IMAGE (empty, corrupt, truncated, zero-size),
// CUCLIP_ERR_UNSUPPORTED_IMAGE (unknown format or a variant Pillow parity is not guaranteed for),
// CUCLIP_ERR_LIMIT_EXCEEDED (over max_pixels). On error *out is left empty.
Status decode_file(const std::string& path, const DecodeOptions& opt, Image* out);
Status decode_memory(const uint8_t* data, size_t size, const DecodeOptions& opt, Image* out);
// Wraps caller pixels (channels 1 = L, 3 = RGB, 4 = RGBA); stride 0 means width * channels.
Status from_pixels(const uint8_t* pixels, int width, int height, int stride, int channels, Image* out);

enum class ResizeMode { Shortest, Squash, Longest };
enum class Interp { Bicubic, Bilinear, Nearest };
enum class Order {
  ResizeCropThenRgb,  // openai / open_clip: Resize, CenterCrop on the decoded mode, then convert("RGB")
  RgbThenResizeCrop,  // transformers CLIPImageProcessor: convert_rgb (alpha over white), resize, crop
};
enum class CropRounding {
  Round,  // torchvision: top = int(round((H - h) / 2)) (half to even); padding (h - H) // 2 first
  Floor,  // transformers: top = (H - h) // 2; padding ceil((h - H) / 2) first
};

struct Preset {
  int size = 224;          // output (crop) side
  int resize_size = 0;     // shortest-edge target before the crop; 0 = size (open_clip always)
  ResizeMode resize_mode = ResizeMode::Shortest;
  Interp interp = Interp::Bicubic;
  float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
  float std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
  Order order = Order::ResizeCropThenRgb;
  CropRounding crop_rounding = CropRounding::Round;
  bool center_crop = true;     // transformers' do_center_crop
  int fill = 0;                // padding value per channel (open_clip fill_color; palette index for P)
  // Rescale: torchvision divides in float32 (x / 255.f); transformers multiplies in float64 by the
  // config's rescale_factor and rounds to float32. Which one the normalize step starts from.
  bool rescale_in_float64 = false;
  double rescale_factor = 1.0 / 255.0;  // used when rescale_in_float64
};

// Presets of the two reference ecosystems (everything else as in Preset's defaults).
Preset openai_preset(int size);
Preset hf_clip_preset(int size);

// decode_memory for a preset's pipeline: where a decoder supports it (JPEG), only the pixels the
// preset reads are decoded and the others are left 0, which preprocessing never sees.
Status decode_memory_for_preset(const uint8_t* data, size_t size, const DecodeOptions& opt, const Preset& preset,
                                Image* out);

// The uint8 RGB image the model sees: size x size x 3, interleaved, row-major.
Status preprocess_u8(const Image& img, const Preset& p, std::vector<uint8_t>* rgb_out);
// Normalized CHW float32 [3, size, size] from that image: (x / 255 - mean) / std in float32.
Status preprocess(const Image& img, const Preset& p, float* out_chw);
// The normalization step alone (rgb: size*size*3 interleaved), for callers holding preprocess_u8 output.
void normalize_u8(const uint8_t* rgb, int size, const Preset& p, float* out_chw);
// Its table: lut[c * 256 + v] = the float32 value of byte v in channel c (3 * 256 floats), which
// is what the GPU path normalizes with on the device.
void normalize_lut(const Preset& p, float* lut);

// Decodes + preprocesses paths[i] into out[i * 3*S*S] on n_threads threads (<= 0: all cores).
// statuses[i] is set for every item; a failed item's slice is NaN and never affects the others.
void preprocess_files(const std::vector<std::string>& paths, const Preset& p, const DecodeOptions& opt,
                      float* out, Status* statuses, int n_threads);
// The same stopping before normalization: out[i * 3*S*S] receives preprocess_u8's bytes (a failed
// item's slice is zero).
void preprocess_files(const std::vector<std::string>& paths, const Preset& p, const DecodeOptions& opt,
                      uint8_t* out, Status* statuses, int n_threads);
// The same for encoded images in memory.
void preprocess_buffers(const std::vector<const uint8_t*>& data, const std::vector<size_t>& sizes,
                        const Preset& p, const DecodeOptions& opt, float* out, Status* statuses,
                        int n_threads);
void preprocess_buffers(const std::vector<const uint8_t*>& data, const std::vector<size_t>& sizes,
                        const Preset& p, const DecodeOptions& opt, uint8_t* out, Status* statuses,
                        int n_threads);

// ---- Preprocessing on a device ---------------------------------------------------------------------
// preprocess_u8 as two separable fixed-point passes that a GPU runs (the CUDA backend's resize
// kernel, kernels/resize.cu): the taps are the ones resize() uses, computed here on the host, so
// executing the plan gives preprocess_u8's bytes exactly, crop and padding included.
struct ResamplePlan {
  // One axis: window position i reads source positions first[i] .. first[i] + count[i] - 1
  // (relative to the source window) with weights[i * ksize + j], fixed point with 22 fractional
  // bits. An axis the preset does not resize has one tap of weight 1 << 22 (an exact copy).
  struct Taps {
    int ksize = 0;
    std::vector<int32_t> first, count, weights;
  };
  int channels = 3;             // of the source: 3 (RGB) or 1 (L, replicated to RGB at the end)
  int src_x0 = 0, src_y0 = 0;   // the source window read: src_w x src_h pixels from (src_x0, src_y0)
  int src_w = 0, src_h = 0;
  bool vertical_first = false;  // Pillow's pass order, which decides the uint8 rounding in between
  int win_w = 0, win_h = 0;     // the part of the resized image inside the crop
  int dst_x = 0, dst_y = 0;     // where it lands in the size x size output; the rest is `fill`
  int size = 0, fill = 0;
  Taps h, v;                    // h: one per window column (win_w), v: one per window row (win_h)
  // Bytes of the intermediate image between the passes.
  size_t tmp_bytes() const {
    return (vertical_first ? (size_t)src_w * win_h : (size_t)win_w * src_h) * channels;
  }
};
// Fills *plan for an RGB or L image under a bicubic or bilinear preset. False (plan untouched)
// for what only preprocess_u8 does: palette, bilevel, 16-bit, CMYK and alpha images, transparency
// composited over white (transformers' order), NEAREST, and presets preprocess_u8 refuses.
bool plan_resample(const Image& img, const Preset& p, ResamplePlan* plan);
// The same for the pixels of a width x height image of `mode` held elsewhere (the C API's caller
// pixels): the plan depends only on the geometry, the mode and the transparency flag.
bool plan_resample(int width, int height, Mode mode, bool has_transparency, const Preset& p, ResamplePlan* plan);
// The plan executed on the host, the reference of the device kernel: src points at the window's
// first pixel (src_x0, src_y0) with rows `stride` bytes apart; out_rgb receives size x size x 3.
void run_resample_plan(const ResamplePlan& plan, const uint8_t* src, size_t stride, uint8_t* out_rgb);

// Building blocks, exposed for tests and the GPU path.
// Pillow's Image.convert("RGB") of any Mode (alpha dropped, palette looked up, CMYK formula, ...).
void convert_to_rgb(const Image& in, Image* out);
// transformers' convert_rgb: images with alpha or transparency are composited over opaque white
// with Pillow's alpha_composite, others as convert_to_rgb.
void convert_to_rgb_over_white(const Image& in, Image* out);
// Pillow's Image.resize(size, filter) for every Mode (P/1 forced to NEAREST, LA/RGBA premultiplied).
Status resize(const Image& in, int out_w, int out_h, Interp interp, Image* out);
// The (w, h) the preset resizes `width x height` to before cropping.
void resized_size(int width, int height, const Preset& p, int* out_w, int* out_h);

}  // namespace cuclip::img
