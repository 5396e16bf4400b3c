// Image preprocessing on the device: Pillow's resize (bicubic or bilinear, antialiased), the centre
// crop or its padding and the gray-to-RGB conversion, producing the uint8 [S, S, 3] images that
// im2col_u8_kernel (embed.cu) normalizes on its way into the patch GEMM. Decoded images are
// uploaded as they are (only the window the crop reads), so the host's work per image is the
// decode and a few hundred taps, and a 1080p frame moves as its bytes instead of being resampled
// by one CPU core.
//
// Exactness: the taps are computed on the host by img::plan_resample, the same double-precision
// code resize() uses, and rounded there to Pillow's 22-bit fixed point; each pass here accumulates
// in int32 from 1 << 21 and clips to uint8 as Pillow does, so the result equals preprocess_u8 byte
// for byte (tests/gpu_kernels/test_resize.cpp). Pillow's pass order (vertical first when the
// image shrinks much more vertically) is kept, because the uint8 rounding between the passes
// depends on it.
//
// Two kernels, one thread per output byte: the first pass writes the intermediate image of every
// item (grid.y = item), the second reads it and writes the whole S x S output, the crop window
// from the taps and the padding around it as the fill byte. Images differ in size, so the first
// pass's grid covers the largest item and smaller ones leave the extra blocks idle.
#include "kernels/common.cuh"
#include "kernels/resize.hpp"

#include <algorithm>

namespace cuclip::kernels::inline CUCLIP_BUILD_NS {

constexpr int kResizeThreads = 256;
constexpr int kResizeMaxBlocksX = 4096;  // larger images loop (grid-stride) instead

// Pillow's fixed-point convolution of n taps: src[j * step] * w[j] summed from 1 << 21, >> 22, clipped.
__device__ inline uint8_t convolve_fixed(const uint8_t* src, int64_t step, const int32_t* w, int n) {
  int32_t acc = 1 << 21;
  for (int j = 0; j < n; ++j) acc += static_cast<int32_t>(src[j * step]) * w[j];
  acc >>= 22;
  return static_cast<uint8_t>(acc < 0 ? 0 : acc > 255 ? 255 : acc);
}

struct ItemTaps {
  const int32_t *h_first, *h_count, *h_w, *v_first, *v_count, *v_w;
};

__device__ inline ItemTaps item_taps(const ResizeItem& it, const int32_t* taps) {
  ItemTaps t;
  t.h_first = taps + it.taps;
  t.h_count = t.h_first + it.win_w;
  t.h_w = t.h_count + it.win_w;
  t.v_first = t.h_w + static_cast<int64_t>(it.win_w) * it.ksize_h;
  t.v_count = t.v_first + it.win_h;
  t.v_w = t.v_count + it.win_h;
  return t;
}

__global__ void resize_first_pass_kernel(const ResizeItem* items, const int32_t* taps, const uint8_t* src, uint8_t* tmp) {
  const ResizeItem it = items[blockIdx.y];
  const ItemTaps t = item_taps(it, taps);
  const int C = it.channels;
  const int tw = it.vertical_first ? it.src_w : it.win_w, th = it.vertical_first ? it.win_h : it.src_h;
  const int64_t n = static_cast<int64_t>(tw) * th * C;
  const uint8_t* s = src + it.src;
  uint8_t* o = tmp + it.tmp;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < n;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int c = static_cast<int>(e % C);
    const int64_t p = e / C;
    const int x = static_cast<int>(p % tw), y = static_cast<int>(p / tw);
    if (it.vertical_first)  // column x of the source, rows v_first[y] ..
      o[e] = convolve_fixed(s + static_cast<int64_t>(t.v_first[y]) * it.src_stride + static_cast<int64_t>(x) * C + c,
                            it.src_stride, t.v_w + static_cast<int64_t>(y) * it.ksize_v, t.v_count[y]);
    else  // row y of the source, columns h_first[x] ..
      o[e] = convolve_fixed(s + static_cast<int64_t>(y) * it.src_stride + static_cast<int64_t>(t.h_first[x]) * C + c, C,
                            t.h_w + static_cast<int64_t>(x) * it.ksize_h, t.h_count[x]);
  }
}

__global__ void resize_second_pass_kernel(int S, const ResizeItem* items, const int32_t* taps, const uint8_t* tmp,
                                          uint8_t* rgb) {
  const ResizeItem it = items[blockIdx.y];
  const ItemTaps t = item_taps(it, taps);
  const int C = it.channels;
  const uint8_t* m = tmp + it.tmp;
  uint8_t* out = rgb + static_cast<int64_t>(blockIdx.y) * S * S * 3;
  const int64_t n = static_cast<int64_t>(S) * S * 3;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < n;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t p = e / 3;
    const int wx = static_cast<int>(p % S) - it.dst_x, wy = static_cast<int>(p / S) - it.dst_y;
    if (wx < 0 || wy < 0 || wx >= it.win_w || wy >= it.win_h) {
      out[e] = static_cast<uint8_t>(it.fill);
      continue;
    }
    const int c = C == 1 ? 0 : static_cast<int>(e % 3);  // gray: every channel is the one value
    if (it.vertical_first) {  // the intermediate is src_w x win_h: row wy, columns h_first[wx] ..
      const int64_t stride = static_cast<int64_t>(it.src_w) * C;
      out[e] = convolve_fixed(m + wy * stride + static_cast<int64_t>(t.h_first[wx]) * C + c, C,
                              t.h_w + static_cast<int64_t>(wx) * it.ksize_h, t.h_count[wx]);
    } else {  // the intermediate is win_w x src_h: column wx, rows v_first[wy] ..
      const int64_t stride = static_cast<int64_t>(it.win_w) * C;
      out[e] = convolve_fixed(m + static_cast<int64_t>(t.v_first[wy]) * stride + static_cast<int64_t>(wx) * C + c, stride,
                              t.v_w + static_cast<int64_t>(wy) * it.ksize_v, t.v_count[wy]);
    }
  }
}

Status resize_crop_forward(int B, int S, const ResizeItem* items, int64_t max_pass1, const int32_t* taps,
                           const uint8_t* src, uint8_t* tmp, uint8_t* rgb, cudaStream_t stream) {
  if (B < 0 || B > 65535 || S < 1 || max_pass1 < 0)
    return Err(CUCLIP_ERR_INVALID_ARGUMENT, "resize_crop_forward: need 0 <= B <= 65535, S >= 1 and max_pass1 >= 0, got B " +
                                                std::to_string(B) + ", S " + std::to_string(S));
  if (B == 0) return Status::Ok();
  const auto blocks = [](int64_t n) {
    return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(kResizeMaxBlocksX, ceil_div<int64_t>(n, kResizeThreads))));
  };
  CUCLIP_TRY(CUCLIP_LAUNCH(resize_first_pass_kernel, dim3(blocks(max_pass1), static_cast<unsigned>(B)),
                           dim3(kResizeThreads), 0, stream, items, taps, src, tmp));
  return CUCLIP_LAUNCH(resize_second_pass_kernel, dim3(blocks(static_cast<int64_t>(S) * S * 3), static_cast<unsigned>(B)),
                       dim3(kResizeThreads), 0, stream, S, items, taps, tmp, rgb);
}

}  // namespace cuclip::kernels::inline CUCLIP_BUILD_NS
