// Launchers of kernels/pool.cu, for host code (either build; see kernels/gpu.hpp).
#pragma once
#include <cstdint>

#include "kernels/gpu.hpp"

namespace cuclip::kernels::inline CUCLIP_BUILD_NS {

// out[b] = x[rows[b]] for b < B: the pooled token of each item (class token, EOT token).
// x, out: dt, rows of width C; rows: device int32[B], each a valid row of x.
Status gather_rows_forward(gpu::DType dt, int B, int C, const void* x, const int32_t* rows, void* out,
                           cudaStream_t stream);

// out[b] = x[b] / ||x[b]|| in f32, for download: x dt[B, D], out f32[B, D]. An all-zero row stays
// zero (no eps, as cuclip::cpu::l2_normalize_rows); non-finite input propagates as NaN.
Status l2_normalize_forward(gpu::DType dt, int B, int D, const void* x, float* out, cudaStream_t stream);

// x[b, k] = softmax over k of (scale * x[b, k] + bias), in place, f32 [B, K]: the zero-shot head's
// last step (statistics in f32; the row maximum is subtracted before exp).
Status softmax_rows_forward(int B, int K, float scale, float bias, float* x, cudaStream_t stream);

// The k largest of each row of x f32 [B, K], in cuclip_top_k's order (higher first, NaN last, ties
// to the lower index): idx int32 [B, k] and p f32 [B, k], both device. 1 <= k <= K.
Status top_k_rows_forward(int B, int K, int k, const float* x, int32_t* idx, float* p, cudaStream_t stream);

}  // namespace cuclip::kernels::inline CUCLIP_BUILD_NS
