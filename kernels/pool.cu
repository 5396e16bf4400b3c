// The top of both towers: the pooled row of each item gathered by a host-computed index (class
// token for vision, EOT/argmax token for text; the indices are known on the host before the
// forward starts, so no device argmax), and the final L2 normalization, which also widens the
// embedding to f32 for the download.
//
// The zero-shot head ends in softmax_rows_kernel: the similarity logits of each image (a cuBLAS
// GEMM of the normalized embeddings with the classifier's unit rows) scaled by exp(logit_scale),
// shifted by the logit bias, and turned into probabilities in place, so only B x K probabilities
// travel back instead of B x D embeddings and a host GEMM; or, after top_k_rows_kernel, only the
// k best (index, probability) pairs of each row, whatever the number of classes.
//
// One warp per row. The norm scales by the row's largest magnitude first, so rows whose squares
// would underflow (or overflow) f32 still come out unit length, as the double-precision CPU op does.
#include "kernels/layernorm.cuh"
#include "kernels/pool.hpp"

namespace cuclip::kernels::inline CUCLIP_BUILD_NS {

constexpr int kPoolRowsPerBlock = 4;

template <class T>
__global__ void gather_rows_kernel(int B, int C, const T* x, const int32_t* rows, T* out) {
  const int b = blockIdx.x * kPoolRowsPerBlock + static_cast<int>(threadIdx.x) / kWarpSize;
  if (b >= B) return;
  const T* src = x + static_cast<size_t>(rows[b]) * C;
  T* dst = out + static_cast<size_t>(b) * C;
  for (int c = threadIdx.x % kWarpSize; c < C; c += kWarpSize) dst[c] = src[c];
}

template <class T>
__global__ void l2_normalize_kernel(int B, int D, const T* x, float* out) {
  const int b = blockIdx.x * kPoolRowsPerBlock + static_cast<int>(threadIdx.x) / kWarpSize;
  if (b >= B) return;
  const int lane = threadIdx.x % kWarpSize;
  const T* xr = x + static_cast<size_t>(b) * D;
  float* o = out + static_cast<size_t>(b) * D;
  float peak = 0.0f;
  for (int d = lane; d < D; d += kWarpSize) peak = fmaxf(peak, fabsf(load_f32(xr + d)));
  bool nan_seen = false;
  for (int d = lane; d < D; d += kWarpSize) nan_seen |= load_f32(xr + d) != load_f32(xr + d);
  peak = warp_allreduce_max(peak);  // fmaxf drops NaN: reported separately
  nan_seen = __any_sync(kFullMask, nan_seen);
  if (nan_seen || peak == 0.0f) {  // NaN propagates; an all-zero row stays zero
    for (int d = lane; d < D; d += kWarpSize) o[d] = nan_seen ? __int_as_float(0x7fffffff) : 0.0f;
    return;
  }
  const float inv_peak = 1.0f / peak;  // inf peak -> 0 -> inf/inf = NaN below, as the CPU op
  float sq = 0.0f;
  for (int d = lane; d < D; d += kWarpSize) {
    const float v = load_f32(xr + d) * inv_peak;
    sq += v * v;
  }
  const float norm = sqrtf(warp_allreduce_sum(sq));
  for (int d = lane; d < D; d += kWarpSize) o[d] = load_f32(xr + d) * inv_peak / norm;
}

__global__ void softmax_rows_kernel(int B, int K, float scale, float bias, float* x) {
  const int b = blockIdx.x * kPoolRowsPerBlock + static_cast<int>(threadIdx.x) / kWarpSize;
  if (b >= B) return;
  const int lane = threadIdx.x % kWarpSize;
  float* row = x + static_cast<size_t>(b) * K;
  float mx = -INFINITY;
  for (int k = lane; k < K; k += kWarpSize) mx = fmaxf(mx, scale * row[k] + bias);
  mx = warp_allreduce_max(mx);
  float sum = 0.0f;
  for (int k = lane; k < K; k += kWarpSize) {
    const float e = expf(scale * row[k] + bias - mx);
    row[k] = e;
    sum += e;
  }
  const float inv = 1.0f / warp_allreduce_sum(sum);
  for (int k = lane; k < K; k += kWarpSize) row[k] *= inv;
}

// The order of cuclip_top_k: higher probability first, NaN after every number, ties to the lower index.
__device__ __forceinline__ bool ranks_before(float pa, int ia, float pb, int ib) {
  const bool na = pa != pa, nb = pb != pb;
  if (na != nb) return nb;
  if (!na && pa != pb) return pa > pb;
  return ia < ib;
}

// k rounds per row, each a warp-wide search for the best element ranked after the previous pick:
// O(k * K / 32) per row, no sort and no scratch, exact for any k (the order is total).
__global__ void top_k_rows_kernel(int B, int K, int k, const float* x, int32_t* idx, float* p) {
  const int b = blockIdx.x * kPoolRowsPerBlock + static_cast<int>(threadIdx.x) / kWarpSize;
  if (b >= B) return;
  const int lane = threadIdx.x % kWarpSize;
  const float* row = x + static_cast<size_t>(b) * K;
  float prev_p = 0.0f;
  int prev_i = -1;
  for (int r = 0; r < k; ++r) {
    float best_p = 0.0f;
    int best_i = -1;
    for (int j = lane; j < K; j += kWarpSize) {
      const float v = row[j];
      if (prev_i >= 0 && !ranks_before(prev_p, prev_i, v, j)) continue;  // already picked
      if (best_i < 0 || ranks_before(v, j, best_p, best_i)) {
        best_p = v;
        best_i = j;
      }
    }
    for (int offset = 16; offset > 0; offset /= 2) {
      const float op = __shfl_xor_sync(kFullMask, best_p, offset);
      const int oi = __shfl_xor_sync(kFullMask, best_i, offset);
      if (oi >= 0 && (best_i < 0 || ranks_before(op, oi, best_p, best_i))) {
        best_p = op;
        best_i = oi;
      }
    }
    if (lane == 0) {
      idx[static_cast<size_t>(b) * k + r] = best_i;
      p[static_cast<size_t>(b) * k + r] = best_p;
    }
    prev_p = best_p;
    prev_i = best_i;
  }
}

Status top_k_rows_forward(int B, int K, int k, const float* x, int32_t* idx, float* p, cudaStream_t stream) {
  if (B < 0 || K < 1 || k < 1 || k > K)
    return Err(CUCLIP_ERR_INVALID_ARGUMENT, "top_k_rows_forward: need B >= 0 and 1 <= k <= K, got k " + std::to_string(k) +
                                                ", K " + std::to_string(K));
  if (B == 0) return Status::Ok();
  return CUCLIP_LAUNCH(top_k_rows_kernel, dim3(ceil_div(B, kPoolRowsPerBlock)), dim3(kPoolRowsPerBlock * kWarpSize), 0,
                       stream, B, K, k, x, idx, p);
}

Status softmax_rows_forward(int B, int K, float scale, float bias, float* x, cudaStream_t stream) {
  if (B < 0 || K < 1) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "softmax_rows_forward: need B >= 0 and K >= 1");
  if (B == 0) return Status::Ok();
  return CUCLIP_LAUNCH(softmax_rows_kernel, dim3(ceil_div(B, kPoolRowsPerBlock)), dim3(kPoolRowsPerBlock * kWarpSize), 0,
                       stream, B, K, scale, bias, x);
}

Status gather_rows_forward(gpu::DType dt, int B, int C, const void* x, const int32_t* rows, void* out,
                           cudaStream_t stream) {
  if (B < 0 || C < 1) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "gather_rows_forward: need B >= 0 and C >= 1");
  if (B == 0) return Status::Ok();
  return dispatch_dtype(dt, "gather_rows_forward", [&](auto tag) {
    using T = decltype(tag);
    return CUCLIP_LAUNCH(gather_rows_kernel<T>, dim3(ceil_div(B, kPoolRowsPerBlock)), dim3(kPoolRowsPerBlock * kWarpSize),
                         0, stream, B, C, static_cast<const T*>(x), rows, static_cast<T*>(out));
  });
}

Status l2_normalize_forward(gpu::DType dt, int B, int D, const void* x, float* out, cudaStream_t stream) {
  if (B < 0 || D < 1) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "l2_normalize_forward: need B >= 0 and D >= 1");
  if (B == 0) return Status::Ok();
  return dispatch_dtype(dt, "l2_normalize_forward", [&](auto tag) {
    using T = decltype(tag);
    return CUCLIP_LAUNCH(l2_normalize_kernel<T>, dim3(ceil_div(B, kPoolRowsPerBlock)),
                         dim3(kPoolRowsPerBlock * kWarpSize), 0, stream, B, D, static_cast<const T*>(x), out);
  });
}

}  // namespace cuclip::kernels::inline CUCLIP_BUILD_NS
