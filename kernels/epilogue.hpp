// Launchers of kernels/epilogue.cu, for host code (either build; see kernels/gpu.hpp).
#pragma once
#include "kernels/gpu.hpp"

namespace cuclip::kernels::inline CUCLIP_BUILD_NS {

// The activations of CLIP's MLPs.
enum class EpilogueAct : int {
  None,
  QuickGelu,  // x * sigmoid(1.702 x)          (OpenAI CLIP)
  GeluErf,    // 0.5 x (1 + erf(x / sqrt 2))    (exact GELU: open_clip / HF non-OpenAI models)
};

// In place on the output of a GEMM: C[m, n] = act(C[m, n] + bias[n]) + residual[m, n] for m < M,
// n < N. C, residual: dt[M, N] row-major (residual may be null, or equal C: then C = act(..) + C);
// bias: f32[N] or null. Computed in f32, rounded to dt once.
Status epilogue_forward(gpu::DType dt, int M, int N, const float* bias, EpilogueAct act, const void* residual, void* C,
                        cudaStream_t stream);

}  // namespace cuclip::kernels::inline CUCLIP_BUILD_NS
