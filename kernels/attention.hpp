// Launcher of kernels/attention.cu (fused multi-head attention), for host code of either build
// (see kernels/gpu.hpp and docs/kernels.md "## Attention").
#pragma once
#include "kernels/gpu.hpp"

namespace cuclip::kernels::inline CUCLIP_BUILD_NS {

// out = softmax(q k^T * HD^-0.5 [+ causal mask]) v for every sequence and head, fused in one kernel.
//
// qkv: [total_tokens, 3*C] in dt, row-major (q | k | v blocks of C = NH*HD columns; head h is columns
// h*HD .. h*HD+HD-1 of each block). out: [total_tokens, C] in dt (must not overlap qkv).
// Sequences are packed back to back: sequence b is rows cu_seqlens[b] .. cu_seqlens[b+1]-1, with
// cu_seqlens a device int32[B+1], non-decreasing (normally cu_seqlens[0] = 0; rows outside
// [cu_seqlens[0], cu_seqlens[B]) are neither read nor written). max_seqlen bounds the lengths
// (it sizes the grid; a longer sequence is still computed correctly, only with less parallelism).
// causal: row t attends to keys 0..t of its own sequence; otherwise to all of its sequence. Rows of
// one sequence never read another's. A sequence of length 0 writes nothing.
// dt f16/bf16: tensor cores (mma.sync), f32 accumulation and softmax statistics; dt f32: a plain
// CUDA-core kernel (correctness reference). HD: a multiple of 8 in [8, 128]. qkv and out 16-byte
// aligned. B >= 0, NH >= 1, max_seqlen >= 0 (B == 0 or max_seqlen == 0 launches nothing).
// Enqueued on stream; never synchronizes. Errors: CUCLIP_ERR_INVALID_ARGUMENT (shape, alignment,
// null pointer), CUCLIP_ERR_DEVICE (launch).
Status attention_forward(gpu::DType dt, const void* qkv, void* out, const int* cu_seqlens, int B, int max_seqlen,
                         int NH, int HD, bool causal, cudaStream_t stream);

}  // namespace cuclip::kernels::inline CUCLIP_BUILD_NS
