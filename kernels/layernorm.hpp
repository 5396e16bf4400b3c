// Launchers of kernels/layernorm.cu, for host code (either build; see kernels/gpu.hpp).
#pragma once
#include "kernels/gpu.hpp"

namespace cuclip::kernels::inline CUCLIP_BUILD_NS {

// y[r] = LayerNorm(x[r]) * w + b for r < rows; x, y: dt[rows, C] row-major (y may be x);
// w, b: f32[C] (either may be null: 1 and 0). Statistics in f32. 1 <= C <= 3072 (kLnMaxWidth).
Status layernorm_forward(gpu::DType dt, int rows, int C, const void* x, const float* w, const float* b, float eps,
                         void* y, cudaStream_t stream);

// The residual add fused with the LayerNorm that follows it:
//   x[r] += delta[r] (+ delta_bias)   (x is the residual stream, updated in place)
//   y[r]  = LayerNorm(x[r]) * w + b
// x, delta, y: dt[rows, C]; delta_bias: f32[C] or null (the bias of the GEMM that produced delta).
// The LayerNorm sees x as stored (rounded to dt), as an unfused add followed by layernorm_forward.
// y must not overlap x or delta.
Status add_layernorm_forward(gpu::DType dt, int rows, int C, void* x, const void* delta, const float* delta_bias,
                             const float* w, const float* b, float eps, void* y, cudaStream_t stream);

}  // namespace cuclip::kernels::inline CUCLIP_BUILD_NS
