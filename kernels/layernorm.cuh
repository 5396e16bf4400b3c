// Warp-per-row LayerNorm building blocks, shared by kernels/layernorm.cu (LayerNorm, and LayerNorm
// fused with the residual add) and kernels/embed.cu (class token + positional embedding fused into
// ln_pre). A warp owns one row: it stages the row in f32 in its slice of shared memory while it
// reads it (the only read of global memory), takes the mean and then the variance of the staged
// values (two passes, so no cancellation as with E[x^2] - E[x]^2), and writes the normalized row
// once. Each lane only touches the columns c = lane + 32k, so the staging needs no __syncwarp: the
// shuffles of the reductions are the only communication.
#pragma once
#include "kernels/dtype.cuh"

namespace cuclip::kernels::inline CUCLIP_BUILD_NS {

// Rows a LayerNorm block handles (one warp each) and the most row elements the staging may take:
// kLnRowsPerBlock * C floats of dynamic shared memory must fit the 48 KiB every block may use.
constexpr int kLnRowsPerBlock = 4;
constexpr int kLnMaxWidth = 48 * 1024 / (kLnRowsPerBlock * static_cast<int>(sizeof(float)));

// Sum of v over the warp, in every lane.
__device__ __forceinline__ float warp_allreduce_sum(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(kFullMask, v, offset);
  return v;
}
__device__ __forceinline__ float warp_allreduce_max(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, offset));
  return v;
}

// v rounded to T and widened back: what a later kernel reads after v is stored as T.
template <class T>
__device__ __forceinline__ float round_as(float v) {
  T t;
  store_f32(&t, v);
  return load_f32(&t);
}

// y[c] = (row[c] - mean) * rstd * w[c] + b[c] for the C values the calling warp staged in row
// (lane l staged columns l, l+32, ...). w and b may be null (1 and 0). Statistics in f32.
template <class T>
__device__ __forceinline__ void warp_layernorm_store(const float* row, int C, const float* w, const float* b, float eps,
                                                     T* y) {
  const int lane = threadIdx.x % kWarpSize;
  float sum = 0.0f;
  for (int c = lane; c < C; c += kWarpSize) sum += row[c];
  const float mean = warp_allreduce_sum(sum) / static_cast<float>(C);
  float sq = 0.0f;
  for (int c = lane; c < C; c += kWarpSize) {
    const float d = row[c] - mean;
    sq += d * d;
  }
  const float rstd = rsqrtf(warp_allreduce_sum(sq) / static_cast<float>(C) + eps);
  for (int c = lane; c < C; c += kWarpSize) {
    float v = (row[c] - mean) * rstd;
    if (w) v *= w[c];
    if (b) v += b[c];
    store_f32(y + c, v);
  }
}

}  // namespace cuclip::kernels::inline CUCLIP_BUILD_NS
