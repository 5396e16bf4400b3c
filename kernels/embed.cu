// The embeddings at the bottom of both towers.
//
// Vision: the stride-P patch convolution is a GEMM over im2col rows (im2col_kernel writes them in
// the compute dtype, the GEMM follows in the backend), then vision_tokens_kernel builds the token
// sequence: class token + positional embedding, patch rows + positional embedding, and ln_pre on
// the f32 sum, all in one pass per row. Unfused, that is three passes over [B*T, C] (add, copy
// into place, LayerNorm) and one more rounding.
//
// Text: a gather of token-embedding rows plus the positional row, over packed sequences (no padding
// to the context length), so the position of each row comes from the host with its id.
#include "kernels/embed.hpp"
#include "kernels/layernorm.cuh"

namespace cuclip::kernels::inline CUCLIP_BUILD_NS {

constexpr int kIm2colThreads = 128;
constexpr int kTokenRowsPerBlock = kLnRowsPerBlock;  // one warp per token row, as the LayerNorm

// One block per patch row; threads stride over its 3*P*P columns.
template <class T>
__global__ void im2col_kernel(int S, int P, int G, const float* pixels, T* cols) {
  const int patch = blockIdx.x;  // b*N + py*G + px
  const int N = G * G, b = patch / N, py = (patch % N) / G, px = patch % G;
  const int PP = P * P, K = 3 * PP;
  T* out = cols + static_cast<size_t>(patch) * K;
  for (int k = threadIdx.x; k < K; k += blockDim.x) {
    const int c = k / PP, i = (k % PP) / P, j = k % P;
    const size_t src = ((static_cast<size_t>(b) * 3 + c) * S + static_cast<size_t>(py) * P + i) * S +
                       static_cast<size_t>(px) * P + j;
    store_f32(out + k, pixels[src]);
  }
}

// The same rows from the uint8 RGB images the CPU pipeline makes (img::preprocess_u8: [B, S, S, 3]
// interleaved), normalized on the way through lut[c * 256 + v], the exact float32 values of
// img::normalize_u8 (tabulated on the host): the upload is a quarter of the float pixels', the CPU
// skips the normalization pass, and the columns are bit-identical to the float path's.
template <class T>
__global__ void im2col_u8_kernel(int S, int P, int G, const uint8_t* rgb, const float* lut, T* cols) {
  const int patch = blockIdx.x;
  const int N = G * G, b = patch / N, py = (patch % N) / G, px = patch % G;
  const int PP = P * P, K = 3 * PP;
  T* out = cols + static_cast<size_t>(patch) * K;
  for (int k = threadIdx.x; k < K; k += blockDim.x) {
    const int c = k / PP, i = (k % PP) / P, j = k % P;
    const size_t src = ((static_cast<size_t>(b) * S + static_cast<size_t>(py) * P + i) * S +
                        static_cast<size_t>(px) * P + j) * 3 + c;
    store_f32(out + k, lut[c * 256 + rgb[src]]);
  }
}

template <class T>
__global__ void vision_tokens_kernel(int B, int N, int C, const T* patches, const float* cls, const float* pos,
                                     const float* ln_w, const float* ln_b, float eps, T* out) {
  const int T_ = N + 1;
  const int row = blockIdx.x * kTokenRowsPerBlock + static_cast<int>(threadIdx.x) / kWarpSize;
  if (row >= B * T_) return;  // the whole warp leaves together
  const int lane = threadIdx.x % kWarpSize, t = row % T_;
  const T* patch = t > 0 ? patches + (static_cast<size_t>(row / T_) * N + (t - 1)) * C : nullptr;
  const float* p = pos + static_cast<size_t>(t) * C;
  T* o = out + static_cast<size_t>(row) * C;
  if (!ln_w) {
    for (int c = lane; c < C; c += kWarpSize) store_f32(o + c, (t == 0 ? cls[c] : load_f32(patch + c)) + p[c]);
    return;
  }
  float* staged = dynamic_smem<float>() + static_cast<size_t>(threadIdx.x / kWarpSize) * C;
  for (int c = lane; c < C; c += kWarpSize) staged[c] = (t == 0 ? cls[c] : load_f32(patch + c)) + p[c];
  warp_layernorm_store(staged, C, ln_w, ln_b, eps, o);
}

template <class T>
__global__ void text_tokens_kernel(int rows, int C, const int32_t* ids, const int32_t* positions, const T* token_embed,
                                   const float* pos, T* out) {
  const int row = blockIdx.x * kTokenRowsPerBlock + static_cast<int>(threadIdx.x) / kWarpSize;
  if (row >= rows) return;
  const int lane = threadIdx.x % kWarpSize;
  const T* e = token_embed + static_cast<size_t>(ids[row]) * C;
  const float* p = pos + static_cast<size_t>(positions[row]) * C;
  T* o = out + static_cast<size_t>(row) * C;
  for (int c = lane; c < C; c += kWarpSize) store_f32(o + c, load_f32(e + c) + p[c]);
}

Status im2col_forward(gpu::DType dt, int B, int S, int P, const float* pixels, void* cols, cudaStream_t stream) {
  if (B < 0 || P < 1 || S < P)
    return Err(CUCLIP_ERR_INVALID_ARGUMENT, "im2col_forward: need B >= 0 and 1 <= P <= S, got B " + std::to_string(B) +
                                                ", S " + std::to_string(S) + ", P " + std::to_string(P));
  const int G = S / P;
  if (B == 0) return Status::Ok();
  return dispatch_dtype(dt, "im2col_forward", [&](auto tag) {
    using T = decltype(tag);
    return CUCLIP_LAUNCH(im2col_kernel<T>, dim3(static_cast<unsigned>(B) * G * G), dim3(kIm2colThreads), 0, stream, S,
                         P, G, pixels, static_cast<T*>(cols));
  });
}

Status im2col_u8_forward(gpu::DType dt, int B, int S, int P, const uint8_t* rgb, const float* lut, void* cols,
                         cudaStream_t stream) {
  if (B < 0 || P < 1 || S < P)
    return Err(CUCLIP_ERR_INVALID_ARGUMENT, "im2col_u8_forward: need B >= 0 and 1 <= P <= S, got B " +
                                                std::to_string(B) + ", S " + std::to_string(S) + ", P " + std::to_string(P));
  const int G = S / P;
  if (B == 0) return Status::Ok();
  return dispatch_dtype(dt, "im2col_u8_forward", [&](auto tag) {
    using T = decltype(tag);
    return CUCLIP_LAUNCH(im2col_u8_kernel<T>, dim3(static_cast<unsigned>(B) * G * G), dim3(kIm2colThreads), 0, stream,
                         S, P, G, rgb, lut, static_cast<T*>(cols));
  });
}

Status vision_tokens_forward(gpu::DType dt, int B, int N, int C, const void* patches, const float* cls,
                             const float* pos, const float* ln_w, const float* ln_b, float eps, void* out,
                             cudaStream_t stream) {
  if (B < 0 || N < 1 || C < 1 || C > kLnMaxWidth)
    return Err(CUCLIP_ERR_INVALID_ARGUMENT, "vision_tokens_forward: need B >= 0, N >= 1 and C in [1, " +
                                                std::to_string(kLnMaxWidth) + "]");
  const int rows = B * (N + 1);
  if (rows == 0) return Status::Ok();
  const size_t smem = ln_w ? static_cast<size_t>(kTokenRowsPerBlock) * C * sizeof(float) : 0;
  return dispatch_dtype(dt, "vision_tokens_forward", [&](auto tag) {
    using T = decltype(tag);
    return CUCLIP_LAUNCH(vision_tokens_kernel<T>, dim3(ceil_div(rows, kTokenRowsPerBlock)),
                         dim3(kTokenRowsPerBlock * kWarpSize), smem, stream, B, N, C, static_cast<const T*>(patches),
                         cls, pos, ln_w, ln_b, eps, static_cast<T*>(out));
  });
}

Status text_tokens_forward(gpu::DType dt, int rows, int C, const int32_t* ids, const int32_t* positions,
                           const void* token_embed, const float* pos, void* out, cudaStream_t stream) {
  if (rows < 0 || C < 1) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "text_tokens_forward: need rows >= 0 and C >= 1");
  if (rows == 0) return Status::Ok();
  return dispatch_dtype(dt, "text_tokens_forward", [&](auto tag) {
    using T = decltype(tag);
    return CUCLIP_LAUNCH(text_tokens_kernel<T>, dim3(ceil_div(rows, kTokenRowsPerBlock)),
                         dim3(kTokenRowsPerBlock * kWarpSize), 0, stream, rows, C, ids, positions,
                         static_cast<const T*>(token_embed), pos, static_cast<T*>(out));
  });
}

}  // namespace cuclip::kernels::inline CUCLIP_BUILD_NS
