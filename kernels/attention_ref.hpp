// Launchers of kernels/attention_ref.cu, for host code (either build; see kernels/gpu.hpp).
#pragma once
#include "kernels/gpu.hpp"

namespace cuclip::kernels::inline CUCLIP_BUILD_NS {

// Multi-head attention, the same contract as attention_forward (kernels/attention.hpp):
// qkv: dt[total_tokens, 3*C] (q | k | v blocks of C = NH*HD columns, head h = columns h*HD..),
// out: dt[total_tokens, C]. Sequence b is rows cu_seqlens[b] .. cu_seqlens[b+1]-1 (cu_seqlens:
// device int32[B+1], nondecreasing, each length <= max_seqlen). Scores scaled by HD^-0.5; causal:
// row t sees keys <= t of its own sequence. f32 scores and softmax; any HD in [1, 256].
Status attention_ref_forward(gpu::DType dt, const void* qkv, void* out, const int* cu_seqlens, int B, int max_seqlen,
                             int NH, int HD, bool causal, cudaStream_t stream);

}  // namespace cuclip::kernels::inline CUCLIP_BUILD_NS
