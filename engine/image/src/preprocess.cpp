// The CLIP preprocessing pipelines and the batch driver.
//   openai / open_clip (Order::ResizeCropThenRgb):
//     Resize(size, BICUBIC) on the decoded mode -> CenterCrop(size) (torchvision: pad with `fill`
//     by (S - n) // 2 when too small, offset int(round((n - S) / 2))) -> convert("RGB") -> ToTensor
//     (x / 255 in float32) -> Normalize ((x - mean) / std in float32).
//   transformers CLIPImageProcessor, PIL backend (Order::RgbThenResizeCrop):
//     convert_rgb (alpha composited over white) -> resize shortest edge -> center crop
//     (offset (n - S) // 2, zero padding ceil((S - n) / 2)) -> x * rescale_factor in float64 rounded
//     to float32 -> (x - mean) / std in float32.
// Only the crop window of the resized image is computed (see resample.cpp).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <thread>

#include "base/file.hpp"
#include "image_internal.hpp"

namespace cuclip::img {

Status resize_window(const Image& in, int out_w, int out_h, Interp interp, int x0, int y0, int x1, int y1,
                     Image* out);

Preset openai_preset(int size) {
  Preset p;
  p.size = size;
  return p;
}

Preset hf_clip_preset(int size) {
  Preset p;
  p.size = size;
  p.order = Order::RgbThenResizeCrop;
  p.crop_rounding = CropRounding::Floor;
  p.rescale_in_float64 = true;
  return p;
}

namespace {

// resized_size in 64 bits: an extreme aspect ratio makes the long side overflow an int.
void resized_size64(int width, int height, const Preset& p, int64_t* out_w, int64_t* out_h) {
  const int target = p.resize_size > 0 ? p.resize_size : p.size;
  if (p.resize_mode == ResizeMode::Squash) {
    *out_w = *out_h = target;
  } else if (p.resize_mode == ResizeMode::Shortest) {
    // torchvision / transformers: new_long = int(size * long / short), true division in double.
    const bool w_short = width <= height;
    const int s = w_short ? width : height, l = w_short ? height : width;
    const int64_t new_long = (int64_t)((double)((int64_t)target * l) / s);
    *out_w = w_short ? target : new_long;
    *out_h = w_short ? new_long : target;
  } else {
    // open_clip ResizeKeepRatio(longest=1): ratio = max(h / S, w / S); side = round(side / ratio)
    // with Python's round (half to even).
    const double rh = (double)height / target, rw = (double)width / target;
    const double ratio = std::max(rh, rw);
    *out_h = (int64_t)std::nearbyint(height / ratio);
    *out_w = (int64_t)std::nearbyint(width / ratio);
  }
  *out_w = std::max<int64_t>(*out_w, 1);
  *out_h = std::max<int64_t>(*out_h, 1);
}

constexpr int64_t kMaxResizedSide = std::numeric_limits<int>::max();

}  // namespace

void resized_size(int width, int height, const Preset& p, int* out_w, int* out_h) {
  int64_t w = 0, h = 0;
  resized_size64(width, height, p, &w, &h);
  *out_w = (int)std::min(w, kMaxResizedSide);
  *out_h = (int)std::min(h, kMaxResizedSide);
}

namespace {

// Offset of the crop window in the resized image along one axis (negative: padding before).
int crop_offset(int n, int s, CropRounding r) {
  if (r == CropRounding::Round) {
    if (s > n) return -((s - n) / 2);
    const int d = n - s;  // round(d / 2) with ties to even
    const int half = d / 2;
    return (d % 2 == 0) ? half : (half % 2 == 0 ? half : half + 1);
  }
  if (s > n) return -((s - n + 1) / 2);
  return (n - s) / 2;
}

// Where the crop window sits in the resized image: [left, left + w) x [top, top + h), may extend
// past the resized rw x rh image (padding).
struct CropGeometry {
  int rw = 0, rh = 0, left = 0, top = 0, w = 0, h = 0;
  bool too_large = false;  // the resized image has a side beyond an int: nothing can be computed
  int x0() const { return std::max(0, left); }
  int x1() const { return std::min(rw, left + w); }
  int y0() const { return std::max(0, top); }
  int y1() const { return std::min(rh, top + h); }
};

CropGeometry crop_geometry(int width, int height, const Preset& p) {
  CropGeometry g;
  int64_t w = 0, h = 0;
  resized_size64(width, height, p, &w, &h);
  g.too_large = w > kMaxResizedSide || h > kMaxResizedSide;
  if (g.too_large) return g;
  g.rw = (int)w;
  g.rh = (int)h;
  g.w = g.rw;
  g.h = g.rh;
  if (p.center_crop) {
    g.left = crop_offset(g.rw, p.size, p.crop_rounding);
    g.top = crop_offset(g.rh, p.size, p.crop_rounding);
    g.w = g.h = p.size;
  }
  return g;
}

Status resized_crop(const Image& img, const Preset& p, Image* out) {
  const CropGeometry g = crop_geometry(img.width, img.height, p);
  if (g.too_large)
    return Err(CUCLIP_ERR_LIMIT_EXCEEDED, "preprocess: a " + std::to_string(img.width) + "x" + std::to_string(img.height) +
                                              " image resizes to a side longer than 2^31 - 1 pixels (aspect ratio too extreme)");
  const int rw = g.rw, rh = g.rh, left = g.left, top = g.top, w = g.w, h = g.h;
  if (!p.center_crop && (rw != p.size || rh != p.size))
    return Err(CUCLIP_ERR_INVALID_ARGUMENT, "preset without center crop must resize to size x size");
  const int x0 = g.x0(), x1 = g.x1(), y0 = g.y0(), y1 = g.y1();
  Image window;
  CUCLIP_TRY(resize_window(img, rw, rh, p.interp, x0, y0, x1, y1, &window));
  if (x0 == left && y0 == top && x1 - x0 == w && y1 - y0 == h) {
    *out = std::move(window);
    return Status::Ok();
  }
  crop_or_pad(window, left - x0, top - y0, w, h, p.fill, out);
  return Status::Ok();
}

}  // namespace

SourceWindow source_window_for_preset(int width, int height, const Preset& p) {
  const CropGeometry g = crop_geometry(width, height, p);
  if (g.too_large || g.x0() >= g.x1() || g.y0() >= g.y1()) return {0, width, 0, height};
  return resize_source_window(width, height, g.rw, g.rh, p.interp, g.x0(), g.y0(), g.x1(), g.y1());
}

Status preprocess_u8(const Image& img, const Preset& p, std::vector<uint8_t>* rgb_out) {
  if (!rgb_out) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "preprocess_u8: rgb_out is NULL");
  if (p.size <= 0 || p.size > 16384 || p.resize_size < 0 || p.resize_size > 65536)
    return Err(CUCLIP_ERR_INVALID_ARGUMENT, "preprocess: preset size out of range");
  if (img.width <= 0 || img.height <= 0 ||
      img.pixels.size() != (size_t)img.width * img.height * bytes_per_pixel(img.mode))
    return Err(CUCLIP_ERR_INVALID_ARGUMENT, "preprocess: empty or inconsistent image");
  Image rgb;
  if (p.order == Order::ResizeCropThenRgb) {
    Image cropped;
    CUCLIP_TRY(resized_crop(img, p, &cropped));
    convert_to_rgb(cropped, &rgb);
  } else {
    Image full;
    convert_to_rgb_over_white(img, &full);
    CUCLIP_TRY(resized_crop(full, p, &rgb));
  }
  *rgb_out = std::move(rgb.pixels);
  return Status::Ok();
}

bool plan_resample(const Image& img, const Preset& p, ResamplePlan* plan) {
  if (img.width <= 0 || img.height <= 0 ||
      img.pixels.size() != (size_t)img.width * img.height * bytes_per_pixel(img.mode))
    return false;
  return plan_resample(img.width, img.height, img.mode, img.has_transparency, p, plan);
}

bool plan_resample(int width, int height, Mode mode, bool has_transparency, const Preset& p, ResamplePlan* plan) {
  if (!plan || p.size <= 0 || p.size > 16384 || p.resize_size < 0 || p.resize_size > 65536) return false;
  if (p.interp != Interp::Bicubic && p.interp != Interp::Bilinear) return false;
  if (mode != Mode::RGB && mode != Mode::L) return false;
  // transformers' order composites transparency over white before resizing; openai's drops it.
  if (p.order == Order::RgbThenResizeCrop && has_transparency) return false;
  if (width <= 0 || height <= 0) return false;
  const CropGeometry g = crop_geometry(width, height, p);
  if (g.too_large || (!p.center_crop && (g.rw != p.size || g.rh != p.size))) return false;
  const int x0 = g.x0(), x1 = g.x1(), y0 = g.y0(), y1 = g.y1();
  if (x0 >= x1 || y0 >= y1) return false;
  const SourceWindow sw = resize_source_window(width, height, g.rw, g.rh, p.interp, x0, y0, x1, y1);
  ResamplePlan r;
  r.channels = mode == Mode::RGB ? 3 : 1;  // L -> RGB replicates, which commutes with resampling
  r.src_x0 = sw.x0;
  r.src_y0 = sw.y0;
  r.src_w = sw.x1 - sw.x0;
  r.src_h = sw.y1 - sw.y0;
  // resample_window's rule (resample.cpp); with one axis unchanged either order is exact.
  r.vertical_first = g.rh != height && g.rh < height && (height - g.rh) > 2 * (width - g.rw);
  r.win_w = x1 - x0;
  r.win_h = y1 - y0;
  r.dst_x = x0 - g.left;
  r.dst_y = y0 - g.top;
  r.size = p.size;
  r.fill = (uint8_t)p.fill;  // crop_or_pad's byte, in every channel of either order
  plan_axis_taps(width, g.rw, p.interp, x0, x1, sw.x0, &r.h);
  plan_axis_taps(height, g.rh, p.interp, y0, y1, sw.y0, &r.v);
  *plan = std::move(r);
  return true;
}

namespace {

// One output value of a pass: Pillow's fixed-point convolution (resample.cpp: convolve_lanes).
inline uint8_t convolve_taps(const uint8_t* src, size_t step, const int32_t* w, int n) {
  int32_t acc = 1 << 21;
  for (int j = 0; j < n; ++j) acc += src[(size_t)j * step] * w[j];
  acc >>= 22;
  return (uint8_t)(acc < 0 ? 0 : acc > 255 ? 255 : acc);
}

}  // namespace

void run_resample_plan(const ResamplePlan& pl, const uint8_t* src, size_t stride, uint8_t* out_rgb) {
  const int C = pl.channels, S = pl.size;
  std::fill(out_rgb, out_rgb + (size_t)S * S * 3, (uint8_t)pl.fill);
  std::vector<uint8_t> tmp(pl.tmp_bytes());
  auto put = [&](int x, int y, int c, uint8_t v) {
    uint8_t* o = out_rgb + ((size_t)(pl.dst_y + y) * S + (pl.dst_x + x)) * 3;
    if (C == 1) o[0] = o[1] = o[2] = v;
    else o[c] = v;
  };
  const int32_t* hw = pl.h.weights.data();
  const int32_t* vw = pl.v.weights.data();
  if (!pl.vertical_first) {  // tmp: win_w x src_h
    const size_t tstride = (size_t)pl.win_w * C;
    for (int y = 0; y < pl.src_h; ++y)
      for (int x = 0; x < pl.win_w; ++x)
        for (int c = 0; c < C; ++c)
          tmp[y * tstride + (size_t)x * C + c] = convolve_taps(src + y * stride + (size_t)pl.h.first[x] * C + c, C,
                                                               hw + (size_t)x * pl.h.ksize, pl.h.count[x]);
    for (int y = 0; y < pl.win_h; ++y)
      for (int x = 0; x < pl.win_w; ++x)
        for (int c = 0; c < C; ++c)
          put(x, y, c, convolve_taps(tmp.data() + pl.v.first[y] * tstride + (size_t)x * C + c, tstride,
                                     vw + (size_t)y * pl.v.ksize, pl.v.count[y]));
  } else {  // tmp: src_w x win_h
    const size_t tstride = (size_t)pl.src_w * C;
    for (int y = 0; y < pl.win_h; ++y)
      for (int x = 0; x < pl.src_w; ++x)
        for (int c = 0; c < C; ++c)
          tmp[y * tstride + (size_t)x * C + c] = convolve_taps(src + pl.v.first[y] * stride + (size_t)x * C + c, stride,
                                                               vw + (size_t)y * pl.v.ksize, pl.v.count[y]);
    for (int y = 0; y < pl.win_h; ++y)
      for (int x = 0; x < pl.win_w; ++x)
        for (int c = 0; c < C; ++c)
          put(x, y, c, convolve_taps(tmp.data() + y * tstride + (size_t)pl.h.first[x] * C + c, C,
                                     hw + (size_t)x * pl.h.ksize, pl.h.count[x]));
  }
}

void normalize_lut(const Preset& p, float* lut) {
  // Only 256 inputs per channel: tabulate the exact float32 arithmetic once.
  for (int c = 0; c < 3; ++c) {
    for (int v = 0; v < 256; ++v) {
      const float x = p.rescale_in_float64 ? (float)((double)v * p.rescale_factor) : (float)v / 255.0f;
      const float centered = x - p.mean[c];
      lut[c * 256 + v] = centered / p.std[c];
    }
  }
}

void normalize_u8(const uint8_t* rgb, int size, const Preset& p, float* out_chw) {
  float lut[3 * 256];
  normalize_lut(p, lut);
  const size_t plane = (size_t)size * size;
  for (size_t i = 0; i < plane; ++i)
    for (int c = 0; c < 3; ++c) out_chw[c * plane + i] = lut[c * 256 + rgb[i * 3 + c]];
}

Status preprocess(const Image& img, const Preset& p, float* out_chw) {
  if (!out_chw) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "preprocess: out is NULL");
  std::vector<uint8_t> rgb;
  CUCLIP_TRY(preprocess_u8(img, p, &rgb));
  normalize_u8(rgb.data(), p.size, p, out_chw);
  return Status::Ok();
}

namespace {

// Runs item(i) for i in [0, n) on n_threads workers pulling indices from a shared counter.
template <class F>
void parallel_for(int n, int n_threads, F item) {
  if (n_threads <= 0) n_threads = (int)std::max(1u, std::thread::hardware_concurrency());
  n_threads = std::min(n_threads, n);
  std::atomic<int> next{0};
  auto worker = [&] {
    for (int i = next++; i < n; i = next++) item(i);
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < n_threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
}

void run_one(Status s, const Image& im, const Preset& p, float* slice, Status* status) {
  if (s.ok()) {
    try {
      s = preprocess(im, p, slice);
    } catch (const std::bad_alloc&) {
      s = Err(CUCLIP_ERR_OUT_OF_MEMORY, "out of memory while preprocessing");
    }
  }
  if (!s.ok()) std::fill(slice, slice + 3 * (size_t)p.size * p.size, std::numeric_limits<float>::quiet_NaN());
  if (status) *status = std::move(s);
}

// The uint8 edition: the image the model sees, before normalization (a failed item's slice is 0).
void run_one(Status s, const Image& im, const Preset& p, uint8_t* slice, Status* status) {
  const size_t n = 3 * (size_t)p.size * p.size;
  if (s.ok()) {
    try {
      std::vector<uint8_t> rgb;
      s = preprocess_u8(im, p, &rgb);
      if (s.ok()) std::copy(rgb.begin(), rgb.end(), slice);
    } catch (const std::bad_alloc&) {
      s = Err(CUCLIP_ERR_OUT_OF_MEMORY, "out of memory while preprocessing");
    }
  }
  if (!s.ok()) std::fill(slice, slice + n, uint8_t{0});
  if (status) *status = std::move(s);
}

template <class Out>
void files_impl(const std::vector<std::string>& paths, const Preset& p, const DecodeOptions& opt, Out* out,
                Status* statuses, int n_threads) {
  const size_t per = 3 * (size_t)p.size * p.size;
  parallel_for((int)paths.size(), n_threads, [&](int i) {
    Image im;
    std::vector<uint8_t> bytes;
    Status s = read_file(paths[i], 1ull << 31, &bytes);
    if (s.ok()) s = decode_memory_for_preset(bytes.data(), bytes.size(), opt, p, &im);
    if (!s.ok()) s.message = paths[i] + ": " + s.message;
    run_one(std::move(s), im, p, out + per * i, statuses ? &statuses[i] : nullptr);
  });
}

template <class Out>
void buffers_impl(const std::vector<const uint8_t*>& data, const std::vector<size_t>& sizes, const Preset& p,
                  const DecodeOptions& opt, Out* out, Status* statuses, int n_threads) {
  const size_t per = 3 * (size_t)p.size * p.size;
  const int n = (int)std::min(data.size(), sizes.size());
  parallel_for(n, n_threads, [&](int i) {
    Image im;
    Status s = decode_memory_for_preset(data[i], sizes[i], opt, p, &im);
    run_one(std::move(s), im, p, out + per * i, statuses ? &statuses[i] : nullptr);
  });
}

}  // namespace

void preprocess_files(const std::vector<std::string>& paths, const Preset& p, const DecodeOptions& opt, float* out,
                      Status* statuses, int n_threads) {
  files_impl(paths, p, opt, out, statuses, n_threads);
}
void preprocess_files(const std::vector<std::string>& paths, const Preset& p, const DecodeOptions& opt, uint8_t* out,
                      Status* statuses, int n_threads) {
  files_impl(paths, p, opt, out, statuses, n_threads);
}

void preprocess_buffers(const std::vector<const uint8_t*>& data, const std::vector<size_t>& sizes, const Preset& p,
                        const DecodeOptions& opt, float* out, Status* statuses, int n_threads) {
  buffers_impl(data, sizes, p, opt, out, statuses, n_threads);
}
void preprocess_buffers(const std::vector<const uint8_t*>& data, const std::vector<size_t>& sizes, const Preset& p,
                        const DecodeOptions& opt, uint8_t* out, Status* statuses, int n_threads) {
  buffers_impl(data, sizes, p, opt, out, statuses, n_threads);
}

}  // namespace cuclip::img
