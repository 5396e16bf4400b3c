// Launchers of kernels/embed.cu, for host code (either build; see kernels/gpu.hpp).
#pragma once
#include <cstdint>

#include "kernels/gpu.hpp"

namespace cuclip::kernels::inline CUCLIP_BUILD_NS {

// Patches of f32 pixels[B, 3, S, S] as the rows of cols: dt[B*N, 3*P*P], N = G*G, G = floor(S/P);
// row b*N + py*G + px, column c*P*P + i*P + j (PyTorch's conv weight [C, 3, P, P] flattened), so
// cols . conv^T is the stride-P convolution. Pixels past G*P in either direction are never read.
Status im2col_forward(gpu::DType dt, int B, int S, int P, const float* pixels, void* cols, cudaStream_t stream);
// The same from uint8 RGB images rgb[B, S, S, 3] (interleaved, as img::preprocess_u8 makes them),
// normalized through lut[3 * 256] (lut[c * 256 + v]: channel c's float32 value of byte v).
Status im2col_u8_forward(gpu::DType dt, int B, int S, int P, const uint8_t* rgb, const float* lut, void* cols,
                         cudaStream_t stream);

// Vision tokens, T = N + 1 per image: out[b*T] = cls + pos[0], out[b*T + 1 + i] = patches[b*N + i] +
// pos[1 + i], then LayerNorm(ln_w, ln_b) of each row when ln_w is not null (ln_pre, fused: the sum
// is normalized in f32 before any rounding). patches, out: dt; cls f32[C], pos f32[T, C], ln f32[C].
Status vision_tokens_forward(gpu::DType dt, int B, int N, int C, const void* patches, const float* cls,
                             const float* pos, const float* ln_w, const float* ln_b, float eps, void* out,
                             cudaStream_t stream);

// Text tokens: out[r] = token_embed[ids[r]] + pos[positions[r]] for r < rows (sequences packed back
// to back; positions[r] is r's index inside its sequence). ids, positions: device int32[rows],
// already validated (0 <= ids < vocab, 0 <= positions < context length); token_embed dt[V, C];
// pos f32[L, C]; out dt[rows, C].
Status text_tokens_forward(gpu::DType dt, int rows, int C, const int32_t* ids, const int32_t* positions,
                           const void* token_embed, const float* pos, void* out, cudaStream_t stream);

}  // namespace cuclip::kernels::inline CUCLIP_BUILD_NS
