// A plain attention kernel: correct for every dtype, head dim and sequence length, and the
// reference the tensor-core kernel (kernels/attention.cu) is measured against. The backend uses it
// for f32 and as the fallback where the fast kernel does not apply.
//
// One block per (query tile, head, sequence) over packed sequences (cu_seqlens), one warp per query
// row. For its row a warp keeps q and the row's scores in shared memory: lanes split the keys for
// QK^T (each lane a whole dot product, no shuffles), two warp reductions give the softmax's max
// and sum, then lanes split the head dims for PV. Scores and softmax in f32; one rounding at the
// store. K and V are re-read per query row from global memory (L2): simple, not fast.
#include <cmath>

#include "kernels/attention_ref.hpp"
#include "kernels/layernorm.cuh"

namespace cuclip::kernels::inline CUCLIP_BUILD_NS {

constexpr int kAttnRefWarps = 4;
constexpr int kAttnRefQueryTile = 16;  // query rows per block, kAttnRefQueryTile / kAttnRefWarps per warp
constexpr int kAttnRefMaxHeadDim = 256;

template <class T>
__global__ void attention_ref_kernel(const T* qkv, T* out, const int* cu_seqlens, int max_seqlen, int NH, int HD,
                                     bool causal, float scale) {
  const int b = blockIdx.z, h = blockIdx.y;
  const int start = cu_seqlens[b];
  const int len = min(cu_seqlens[b + 1] - start, max_seqlen);  // the shared-memory bound, whatever the input
  const int q0 = blockIdx.x * kAttnRefQueryTile;
  if (q0 >= len) return;  // the whole block: this tile is past the sequence's end
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const int C = NH * HD;
  const size_t ld = 3 * static_cast<size_t>(C);
  float* q = dynamic_smem<float>() + static_cast<size_t>(warp) * (HD + max_seqlen);
  float* s = q + HD;
  const T* keys = qkv + static_cast<size_t>(start) * ld + C + static_cast<size_t>(h) * HD;
  const T* values = keys + C;
  for (int t = q0 + warp; t < min(q0 + kAttnRefQueryTile, len); t += kAttnRefWarps) {
    const T* qrow = qkv + static_cast<size_t>(start + t) * ld + static_cast<size_t>(h) * HD;
    for (int d = lane; d < HD; d += kWarpSize) q[d] = load_f32(qrow + d);
    __syncwarp();
    const int nkeys = causal ? t + 1 : len;
    float mx = -INFINITY;
    for (int j = lane; j < nkeys; j += kWarpSize) {
      const T* k = keys + static_cast<size_t>(j) * ld;
      float dot = 0.0f;
      for (int d = 0; d < HD; ++d) dot += q[d] * load_f32(k + d);
      s[j] = dot * scale;
      mx = fmaxf(mx, s[j]);
    }
    mx = warp_allreduce_max(mx);
    float sum = 0.0f;
    for (int j = lane; j < nkeys; j += kWarpSize) {
      s[j] = expf(s[j] - mx);
      sum += s[j];
    }
    const float inv_sum = 1.0f / warp_allreduce_sum(sum);
    __syncwarp();  // every lane's probabilities are visible to all before PV
    T* o = out + static_cast<size_t>(start + t) * C + static_cast<size_t>(h) * HD;
    for (int d = lane; d < HD; d += kWarpSize) {
      float acc = 0.0f;
      for (int j = 0; j < nkeys; ++j) acc += s[j] * load_f32(values + static_cast<size_t>(j) * ld + d);
      store_f32(o + d, acc * inv_sum);
    }
    __syncwarp();  // q and s are rewritten by the warp's next row
  }
}

Status attention_ref_forward(gpu::DType dt, const void* qkv, void* out, const int* cu_seqlens, int B, int max_seqlen,
                             int NH, int HD, bool causal, cudaStream_t stream) {
  if (B < 0 || max_seqlen < 0 || NH < 1 || HD < 1 || HD > kAttnRefMaxHeadDim)
    return Err(CUCLIP_ERR_INVALID_ARGUMENT, "attention_ref_forward: need B >= 0, max_seqlen >= 0, NH >= 1 and HD in [1, " +
                                                std::to_string(kAttnRefMaxHeadDim) + "], got B " + std::to_string(B) +
                                                ", max_seqlen " + std::to_string(max_seqlen) + ", NH " +
                                                std::to_string(NH) + ", HD " + std::to_string(HD));
  if (B == 0 || max_seqlen == 0) return Status::Ok();
  const size_t smem = static_cast<size_t>(kAttnRefWarps) * (HD + max_seqlen) * sizeof(float);
  const dim3 grid(ceil_div(max_seqlen, kAttnRefQueryTile), NH, B);
  const float scale = 1.0f / std::sqrt(static_cast<float>(HD));
  return dispatch_dtype(dt, "attention_ref_forward", [&](auto tag) -> Status {
    using T = decltype(tag);
    if (smem > 48 * 1024) {  // sequences longer than ~3000 tokens: opt in to more shared memory
      cudaError_t e = cudaFuncSetAttribute(attention_ref_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           static_cast<int>(smem));
      if (e != cudaSuccess)
        return Err(CUCLIP_ERR_UNSUPPORTED, "attention_ref_forward: max_seqlen " + std::to_string(max_seqlen) +
                                               " needs " + std::to_string(smem) + " bytes of shared memory per block");
    }
    return CUCLIP_LAUNCH(attention_ref_kernel<T>, grid, dim3(kAttnRefWarps * kWarpSize), smem, stream,
                         static_cast<const T*>(qkv), static_cast<T*>(out), cu_seqlens, max_seqlen, NH, HD, causal, scale);
  });
}

}  // namespace cuclip::kernels::inline CUCLIP_BUILD_NS
