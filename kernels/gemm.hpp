// Launcher of kernels/gemm.cu (tensor-core GEMM with fused epilogues), for host code of either build
// (see kernels/gpu.hpp and docs/kernels.md "## GEMM").
#pragma once
#include <cstdint>

#include "kernels/gpu.hpp"

namespace cuclip::kernels::inline CUCLIP_BUILD_NS {

// What is applied to acc = A . W^T before C is rounded to dt (all in f32, rounded once):
enum class Epilogue {
  None,           // C = acc
  Bias,           // C = acc + bias
  BiasQuickGelu,  // C = quick_gelu(acc + bias),  quick_gelu(x) = x * sigmoid(1.702 x)  (OpenAI CLIP)
  BiasGeluErf,    // C = gelu(acc + bias),        gelu(x) = 0.5 x (1 + erf(x / sqrt 2)) (exact GELU)
  BiasResidual,   // C = acc + bias + residual
};

// C[M, N] = epi(A[M, K] . W[N, K]^T), row-major, A/W/C/residual in dt; W is PyTorch Linear's
// [out, in]. bias: f32 [N] device memory (required by every Bias* epilogue, ignored by None).
// residual: [M, N] in dt, for BiasResidual only; it may be exactly C (in-place residual add) but must
// not otherwise overlap C. A and W must not overlap C.
// dt f16/bf16: tensor cores (mma.sync), f32 accumulation; dt f32: a CUDA-core kernel.
// Shapes: M, N >= 0 (0 launches nothing), K >= 1; for f16/bf16 K must be a multiple of 8 (rows are
// loaded in 16-byte pieces; every CLIP width is) and A, W 16-byte aligned. Any M and N.
// Enqueued on stream; never synchronizes. Errors: CUCLIP_ERR_INVALID_ARGUMENT (shape, alignment,
// missing bias/residual), CUCLIP_ERR_DEVICE (launch).
Status gemm_forward(gpu::DType dt, int M, int N, int K, const void* A, const void* W, const float* bias, Epilogue epi,
                    const void* residual, void* C, cudaStream_t stream);

// The patch embedding as one GEMM with implicit im2col: C[B*G*G, N] = cols . W[N, 3*P*P]^T (G =
// floor(S/P)), where cols are exactly the rows im2col_u8_forward (embed.hpp) writes from the uint8
// images rgb[B, S, S, 3] and lut[3 * 256], built tile by tile in shared memory instead of in global
// memory; bit-identical to im2col_u8_forward + gemm_forward. dt f16/bf16 with P a multiple of 8,
// else CUCLIP_ERR_UNSUPPORTED (use that pair). W 16-byte aligned. Enqueued on stream.
Status patch_embed_gemm_forward(gpu::DType dt, int B, int S, int P, const uint8_t* rgb, const float* lut, int N,
                                const void* W, void* C, cudaStream_t stream);

}  // namespace cuclip::kernels::inline CUCLIP_BUILD_NS
