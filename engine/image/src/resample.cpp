// Pillow 13's Image.resize, reproduced bit for bit (verified against Pillow by tests/image):
// - BICUBIC (a = -0.5, support 2) and BILINEAR (support 1) are separable convolutions whose support
//   grows with the downscale factor (antialiasing). Per output pixel the taps start at
//   int(center - support + 0.5) and end at int(center + support + 0.5), clamped to the image;
//   weights are normalized to sum 1 in double, then for 8-bit data rounded away from zero to
//   fixed point with 22 fractional bits and accumulated in int32 from 1 << 21; each pass clips
//   to uint8 (floor of the fixed-point sum), so the intermediate image is uint8.
// - 16-bit gray (I;16) uses the double weights directly, rounds half away from zero and clamps to
//   [0, 65535].
// - Pass order: Pillow 13 runs the vertical pass first when the image shrinks vertically and
//   (H - h) > 2 * (W - w), else horizontal first (found by measurement, see docs/images.md);
//   a pass whose size does not change is skipped.
// - NEAREST (forced for P and 1 images) samples source x = int(x0 + (x + 0.5) * scale) with the
//   position accumulated in double step by step, as Pillow's affine scaler does.
// - LA / RGBA are premultiplied (Pillow's RGBa/La conversion), resampled, then un-premultiplied.
// Only the output window actually needed (the centre crop) is computed: every output pixel depends
// only on the source, so restricting the window does not change any value.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "image_internal.hpp"

namespace cuclip::img {
namespace {

constexpr int kPrecisionBits = 22;

double bicubic_weight(double x) {
  const double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

double bilinear_weight(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

// Taps of one axis for the outputs [o0, o1) only (the crop window: computing the whole axis would
// cost memory in proportion to the resized size, billions of entries for extreme aspect ratios):
// output i reads source [first(i), first(i) + count(i)) with weights w(i)[j] (double) / wi(i)[j]
// (fixed point).
struct AxisTaps {
  int ksize = 0, o0 = 0;
  std::vector<int> first_, count_;
  std::vector<double> w_;
  std::vector<int32_t> wi_;
  int first(int i) const { return first_[(size_t)(i - o0)]; }
  int count(int i) const { return count_[(size_t)(i - o0)]; }
  const double* w(int i) const { return &w_[(size_t)(i - o0) * ksize]; }
  const int32_t* wi(int i) const { return &wi_[(size_t)(i - o0) * ksize]; }
  void shift_first(int delta) {
    for (int& f : first_) f += delta;
  }
};

AxisTaps compute_taps(int in_size, int out_size, Interp interp, int o0, int o1) {
  double (*filter)(double) = interp == Interp::Bilinear ? bilinear_weight : bicubic_weight;
  const double filter_support = interp == Interp::Bilinear ? 1.0 : 2.0;
  AxisTaps t;
  const double scale = (double)in_size / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = filter_support * filterscale;
  const int n_out = o1 - o0;
  t.ksize = (int)std::ceil(support) * 2 + 1;
  t.o0 = o0;
  t.first_.resize(n_out);
  t.count_.resize(n_out);
  t.w_.assign((size_t)n_out * t.ksize, 0.0);
  t.wi_.assign((size_t)n_out * t.ksize, 0);
  const double inv_filterscale = 1.0 / filterscale;
  for (int o = 0; o < n_out; ++o) {
    const int i = o0 + o;
    const double center = (i + 0.5) * scale;
    int lo = (int)(center - support + 0.5);
    if (lo < 0) lo = 0;
    int hi = (int)(center + support + 0.5);
    if (hi > in_size) hi = in_size;
    const int n = hi - lo;
    double* k = &t.w_[(size_t)o * t.ksize];
    double sum = 0.0;
    for (int j = 0; j < n; ++j) {
      k[j] = filter((j + lo - center + 0.5) * inv_filterscale);
      sum += k[j];
    }
    for (int j = 0; j < n; ++j) {
      if (sum != 0.0) k[j] /= sum;
      const double f = k[j] * (1 << kPrecisionBits);
      t.wi_[(size_t)o * t.ksize + j] = (int32_t)(k[j] < 0 ? -0.5 + f : 0.5 + f);
    }
    t.first_[o] = lo;
    t.count_[o] = n;
  }
  return t;
}

inline uint8_t clip8_fixed(int32_t v) {
  v >>= kPrecisionBits;  // arithmetic shift: floor, as Pillow's lookup-table index
  return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

inline uint16_t clip16_round(double v) {
  int r = (int)(v >= 0.0 ? v + 0.5 : v - 0.5);
  return (uint16_t)(r < 0 ? 0 : r > 65535 ? 65535 : r);
}

// A raster the passes read and write: C interleaved channels of T, owned or (view) borrowed.
template <class T>
struct Plane {
  int w = 0, h = 0, c = 0;
  std::vector<T> px;
  const T* view = nullptr;
  T* row(int y) { return px.data() + (size_t)y * w * c; }
  const T* row(int y) const { return (view ? view : px.data()) + (size_t)y * w * c; }
};

// The one convolution kernel of both 8-bit passes: lanes independent outputs, each the sum over
// taps of src[j * stride + lane] * k[j] from 1 << 21, clipped. Contiguous lanes let the compiler
// vectorize; the AVX2 clone is picked at run time. Integer arithmetic: every clone is exact.
__attribute__((target_clones("avx2", "default")))
void convolve_lanes(const uint8_t* src, size_t stride, const int32_t* k, int taps, int lanes, int32_t* acc,
                    uint8_t* dst) {
  for (int l = 0; l < lanes; ++l) acc[l] = 1 << (kPrecisionBits - 1);
  for (int j = 0; j < taps; ++j) {
    const uint8_t* s = src + (size_t)j * stride;
    const int32_t kj = k[j];
    for (int l = 0; l < lanes; ++l) acc[l] += s[l] * kj;
  }
  for (int l = 0; l < lanes; ++l) dst[l] = clip8_fixed(acc[l]);
}

// Scatters one row's pixels (n pixels of C bytes) to dst[x * lanes], the column-major block layout.
template <int C>
void transpose_row_c(const uint8_t* src, int n, int lanes, uint8_t* dst) {
  for (int x = 0; x < n; ++x)
    for (int c = 0; c < C; ++c) dst[(size_t)x * lanes + c] = src[(size_t)x * C + c];
}

void transpose_row(const uint8_t* src, int n, int C, int lanes, uint8_t* dst) {
  switch (C) {
    case 1: transpose_row_c<1>(src, n, lanes, dst); break;
    case 2: transpose_row_c<2>(src, n, lanes, dst); break;
    case 3: transpose_row_c<3>(src, n, lanes, dst); break;
    default: transpose_row_c<4>(src, n, lanes, dst); break;
  }
}

// Horizontal pass: out rows [0, out.h) come from in rows [row0, ...); out columns are taps outputs
// [col0, col0 + out.w). Blocks of kBlockRows rows are transposed (source column-major, rows x
// channels contiguous) so that each output column is one convolve_lanes call.
void horizontal_u8(const Plane<uint8_t>& in, int row0, const AxisTaps& t, int col0, Plane<uint8_t>* out) {
  constexpr int kBlockRows = 16;
  const int C = in.c;
  const int xa = t.first(col0), xb = t.first(col0 + out->w - 1) + t.count(col0 + out->w - 1);
  std::vector<uint8_t> cols((size_t)(xb - xa) * kBlockRows * C);
  std::vector<int32_t> acc(kBlockRows * C);
  std::vector<uint8_t> res(kBlockRows * C);
  for (int y0 = 0; y0 < out->h; y0 += kBlockRows) {
    const int rows = std::min(kBlockRows, out->h - y0), lanes = rows * C;
    for (int r = 0; r < rows; ++r)
      transpose_row(in.row(row0 + y0 + r) + (size_t)xa * C, xb - xa, C, lanes, cols.data() + (size_t)r * C);
    for (int x = 0; x < out->w; ++x) {
      const int i = col0 + x;
      convolve_lanes(cols.data() + (size_t)(t.first(i) - xa) * lanes, lanes, t.wi(i), t.count(i), lanes, acc.data(),
                     res.data());
      for (int r = 0; r < rows; ++r)
        for (int c = 0; c < C; ++c) out->row(y0 + r)[(size_t)x * C + c] = res[r * C + c];
    }
  }
}

// Vertical pass: out row y is taps output row0 + y, reading in rows (taps.first - in_row0).
void vertical_u8(const Plane<uint8_t>& in, int in_row0, const AxisTaps& t, int row0, Plane<uint8_t>* out) {
  const int n_vals = out->w * out->c;
  std::vector<int32_t> acc(n_vals);
  const size_t stride = (size_t)in.w * in.c;
  for (int y = 0; y < out->h; ++y) {
    const int i = row0 + y;
    convolve_lanes(in.row(t.first(i) - in_row0), stride, t.wi(i), t.count(i), n_vals,
                   acc.data(), out->row(y));
  }
}

void horizontal_u16(const Plane<uint16_t>& in, int row0, const AxisTaps& t, int col0, Plane<uint16_t>* out) {
  for (int y = 0; y < out->h; ++y) {
    const uint16_t* src = in.row(row0 + y);
    uint16_t* dst = out->row(y);
    for (int x = 0; x < out->w; ++x) {
      const int i = col0 + x;
      const double* k = t.w(i);
      double acc = 0.0;
      for (int j = 0, n = t.count(i); j < n; ++j) acc += src[t.first(i) + j] * k[j];
      dst[x] = clip16_round(acc);
    }
  }
}

void vertical_u16(const Plane<uint16_t>& in, int in_row0, const AxisTaps& t, int row0, Plane<uint16_t>* out) {
  for (int y = 0; y < out->h; ++y) {
    const int i = row0 + y;
    const double* k = t.w(i);
    uint16_t* dst = out->row(y);
    for (int x = 0; x < out->w; ++x) {
      double acc = 0.0;
      for (int j = 0, n = t.count(i); j < n; ++j) acc += in.row(t.first(i) + j - in_row0)[x] * k[j];
      dst[x] = clip16_round(acc);
    }
  }
}

template <class T>
void run_horizontal(const Plane<T>& in, int row0, const AxisTaps& t, int col0, Plane<T>* out) {
  if constexpr (sizeof(T) == 2) {
    horizontal_u16(in, row0, t, col0, out);
  } else {
    horizontal_u8(in, row0, t, col0, out);
  }
}

template <class T>
void run_vertical(const Plane<T>& in, int in_row0, const AxisTaps& t, int row0, Plane<T>* out) {
  if constexpr (sizeof(T) == 2) vertical_u16(in, in_row0, t, row0, out);
  else vertical_u8(in, in_row0, t, row0, out);
}

template <class T>
Plane<T> sub_columns(const Plane<T>& in, int x0, int x1) {
  Plane<T> out{x1 - x0, in.h, in.c, {}, nullptr};
  out.px.resize((size_t)out.w * out.h * out.c);
  for (int y = 0; y < in.h; ++y)
    std::memcpy(out.row(y), in.row(y) + (size_t)x0 * in.c, sizeof(T) * out.w * out.c);
  return out;
}

// Resamples `in` to out_w x out_h and returns the window [x0, x1) x [y0, y1) of the result.
template <class T>
Plane<T> resample_window(const Plane<T>& in, int out_w, int out_h, Interp interp, int x0, int y0, int x1, int y1) {
  const bool need_h = out_w != in.w, need_v = out_h != in.h;
  AxisTaps th, tv;
  if (need_h) th = compute_taps(in.w, out_w, interp, x0, x1);
  if (need_v) tv = compute_taps(in.h, out_h, interp, y0, y1);
  const bool vertical_first = need_v && out_h < in.h && (in.h - out_h) > 2 * (in.w - out_w);
  auto alloc = [&](int w, int h) {
    Plane<T> p{w, h, in.c, {}, nullptr};
    p.px.resize((size_t)w * h * in.c);
    return p;
  };
  if (!vertical_first) {
    // Horizontal pass over only the source rows the vertical window reads.
    int r0 = y0, r1 = y1;
    if (need_v) { r0 = tv.first(y0); r1 = tv.first(y1 - 1) + tv.count(y1 - 1); }
    Plane<T> tmp;
    if (need_h) {
      tmp = alloc(x1 - x0, r1 - r0);
      run_horizontal(in, r0, th, x0, &tmp);
    } else {
      tmp = alloc(x1 - x0, r1 - r0);
      for (int y = r0; y < r1; ++y)
        std::memcpy(tmp.row(y - r0), in.row(y) + (size_t)x0 * in.c, sizeof(T) * tmp.w * in.c);
    }
    if (!need_v) return tmp;
    Plane<T> out = alloc(x1 - x0, y1 - y0);
    run_vertical(tmp, r0, tv, y0, &out);
    return out;
  }
  // Vertical first, over only the source columns the horizontal window reads.
  int c0 = x0, c1 = x1;
  if (need_h) { c0 = th.first(x0); c1 = th.first(x1 - 1) + th.count(x1 - 1); }
  Plane<T> cols = (c0 == 0 && c1 == in.w) ? Plane<T>{} : sub_columns(in, c0, c1);
  const Plane<T>& src = (c0 == 0 && c1 == in.w) ? in : cols;
  Plane<T> tmp = alloc(c1 - c0, y1 - y0);
  run_vertical(src, 0, tv, y0, &tmp);
  if (!need_h) return tmp;
  // Shift the horizontal taps into the window's column frame.
  AxisTaps shifted = th;
  shifted.shift_first(-c0);
  Plane<T> out = alloc(x1 - x0, y1 - y0);
  run_horizontal(tmp, 0, shifted, x0, &out);
  return out;
}

// Pillow's NEAREST scaler: the source position advances by `scale` per output pixel in double.
void nearest_window(const Image& in, int out_w, int out_h, int x0, int y0, int x1, int y1, Image* out) {
  const int bpp = bytes_per_pixel(in.mode);
  const double sx = (double)in.width / out_w, sy = (double)in.height / out_h;
  std::vector<int> src_x(x1 - x0);
  double pos = sx * 0.5;
  for (int x = 0; x < x1; ++x, pos += sx)
    if (x >= x0) src_x[x - x0] = std::min((int)pos, in.width - 1);
  pos = sy * 0.5;
  for (int y = 0; y < y1; ++y, pos += sy) {
    if (y < y0) continue;
    const uint8_t* s = in.row(std::min((int)pos, in.height - 1));
    uint8_t* d = out->pixels.data() + (size_t)(y - y0) * (x1 - x0) * bpp;
    for (int x = 0; x < x1 - x0; ++x) std::memcpy(d + (size_t)x * bpp, s + (size_t)src_x[x] * bpp, bpp);
  }
}

inline uint8_t muldiv255(unsigned a, unsigned b) {
  unsigned t = a * b + 128;
  return (uint8_t)(((t >> 8) + t) >> 8);
}

}  // namespace

Status resize_window(const Image& in, int out_w, int out_h, Interp interp, int x0, int y0, int x1, int y1,
                     Image* out);

SourceWindow resize_source_window(int in_w, int in_h, int out_w, int out_h, Interp interp, int x0, int y0, int x1,
                                  int y1) {
  SourceWindow w{0, in_w, 0, in_h};
  if (interp == Interp::Nearest) return w;
  if (out_w == in_w && out_h == in_h) return {x0, x1, y0, y1};
  if (out_w != in_w) {
    const AxisTaps t = compute_taps(in_w, out_w, interp, x0, x1);
    w.x0 = t.first(x0);
    w.x1 = t.first(x1 - 1) + t.count(x1 - 1);
  } else {
    w.x0 = x0;
    w.x1 = x1;
  }
  if (out_h != in_h) {
    const AxisTaps t = compute_taps(in_h, out_h, interp, y0, y1);
    w.y0 = t.first(y0);
    w.y1 = t.first(y1 - 1) + t.count(y1 - 1);
  } else {
    w.y0 = y0;
    w.y1 = y1;
  }
  return w;
}

void plan_axis_taps(int in_size, int out_size, Interp interp, int o0, int o1, int src0, ResamplePlan::Taps* out) {
  const int n = o1 - o0;
  out->first.assign((size_t)n, 0);
  out->count.assign((size_t)n, 1);
  if (in_size == out_size) {  // resize() leaves this axis alone: a copy
    out->ksize = 1;
    out->weights.assign((size_t)n, 1 << kPrecisionBits);
    for (int i = 0; i < n; ++i) out->first[(size_t)i] = o0 + i - src0;
    return;
  }
  const AxisTaps t = compute_taps(in_size, out_size, interp, o0, o1);
  out->ksize = t.ksize;
  out->weights.assign((size_t)n * t.ksize, 0);
  for (int i = 0; i < n; ++i) {
    out->first[(size_t)i] = t.first(o0 + i) - src0;
    out->count[(size_t)i] = t.count(o0 + i);
    std::copy_n(t.wi(o0 + i), t.ksize, &out->weights[(size_t)i * t.ksize]);
  }
}

Status resize(const Image& in, int out_w, int out_h, Interp interp, Image* out) {
  return resize_window(in, out_w, out_h, interp, 0, 0, out_w, out_h, out);
}

// Image.resize((out_w, out_h)) cropped to [x0, x1) x [y0, y1) (which must lie inside the output).
Status resize_window(const Image& in, int out_w, int out_h, Interp interp, int x0, int y0, int x1, int y1,
                     Image* out) {
  if (out_w <= 0 || out_h <= 0 || in.width <= 0 || in.height <= 0)
    return Err(CUCLIP_ERR_INVALID_ARGUMENT, "resize: empty image or target size");
  if (x0 < 0 || y0 < 0 || x1 > out_w || y1 > out_h || x0 >= x1 || y0 >= y1)
    return Err(CUCLIP_ERR_INVALID_ARGUMENT, "resize: window outside the output");
  Image r;
  r.width = x1 - x0;
  r.height = y1 - y0;
  r.mode = in.mode;
  r.palette = in.palette;
  r.palette_size = in.palette_size;
  r.has_transparency = in.has_transparency;
  r.transparent_color = in.transparent_color;
  const int bpp = bytes_per_pixel(in.mode);
  if (out_w == in.width && out_h == in.height) {  // Pillow returns a copy
    r.pixels.resize((size_t)r.width * r.height * bpp);
    for (int y = y0; y < y1; ++y)
      std::memcpy(r.pixels.data() + (size_t)(y - y0) * r.width * bpp, in.row(y) + (size_t)x0 * bpp,
                  (size_t)r.width * bpp);
    *out = std::move(r);
    return Status::Ok();
  }
  if (interp == Interp::Nearest || in.mode == Mode::P || in.mode == Mode::Bit1) {
    r.pixels.resize((size_t)r.width * r.height * bpp);
    nearest_window(in, out_w, out_h, x0, y0, x1, y1, &r);
    *out = std::move(r);
    return Status::Ok();
  }
  if (in.mode == Mode::I16) {
    Plane<uint16_t> p{in.width, in.height, 1, {}, nullptr};
    p.px.resize((size_t)in.width * in.height);
    std::memcpy(p.px.data(), in.pixels.data(), p.px.size() * 2);  // uint16 alignment
    Plane<uint16_t> o = resample_window(p, out_w, out_h, interp, x0, y0, x1, y1);
    r.pixels.resize(o.px.size() * 2);
    std::memcpy(r.pixels.data(), o.px.data(), r.pixels.size());
    *out = std::move(r);
    return Status::Ok();
  }
  Plane<uint8_t> p{in.width, in.height, bpp, {}, in.pixels.data()};
  const bool alpha = in.mode == Mode::LA || in.mode == Mode::RGBA;
  if (alpha) {  // Pillow converts to RGBa / La: colour * alpha / 255, rounded
    p.px = in.pixels;
    p.view = nullptr;
    const int nc = bpp - 1;
    for (size_t i = 0; i < p.px.size(); i += bpp)
      for (int c = 0; c < nc; ++c) p.px[i + c] = muldiv255(p.px[i + c], p.px[i + nc]);
  }
  Plane<uint8_t> o = resample_window(p, out_w, out_h, interp, x0, y0, x1, y1);
  if (alpha) {  // and back: colour * 255 / alpha, truncated, unless alpha is 0 or 255
    const int nc = bpp - 1;
    for (size_t i = 0; i < o.px.size(); i += bpp) {
      const unsigned a = o.px[i + nc];
      if (a == 0 || a == 255) continue;
      for (int c = 0; c < nc; ++c) o.px[i + c] = (uint8_t)std::min(255u, 255u * o.px[i + c] / a);
    }
  }
  r.pixels = std::move(o.px);
  *out = std::move(r);
  return Status::Ok();
}

}  // namespace cuclip::img
