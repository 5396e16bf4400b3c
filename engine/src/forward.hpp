// The CLIP forward pass of both towers, written once against the Backend interface.
#pragma once
#include <cstdint>

#include "backend.hpp"
#include "model_config.hpp"

namespace cuclip {

// An image batch in one of the forms a backend takes (exactly one of f32, rgb, resize is set):
//   f32     normalized float pixels[B, 3, S, S];
//   rgb     the uint8 images rgb[B, S, S, 3] (img::preprocess_u8), for backends whose
//           takes_u8_pixels() is true;
//   resize  the decoded images laid out in the backend's resize_staging (resize_batch.hpp), for
//           backends whose resizes_on_device() is true.
// lut: the preset's normalization table [3 * 256] (img::normalize_lut) with rgb and resize.
struct ImageInput {
  const float* f32 = nullptr;
  const uint8_t* rgb = nullptr;
  const ResizeBatchLayout* resize = nullptr;
  const float* lut = nullptr;
};

// Image embeddings -> out[B, D] L2-normalized (host).
Status encode_images(Backend& be, const ModelConfig& cfg, int B, const ImageInput& in, float* out);
// Zero-shot probabilities probs[B, K] (K: the head's classes) instead of embeddings, on a backend
// with a zero-shot head (Backend::has_zero_shot_head); with top_k > 0 only the top_k best classes
// of each image, probs[B, top_k] and their indices idx[B, top_k]. scale = exp(logit_scale),
// bias = logit_bias or 0.
Status classify_images(Backend& be, const ModelConfig& cfg, int B, const ImageInput& in, const ZeroShotHead& head,
                       float scale, float bias, int top_k, float* probs, int32_t* idx);

// Text embeddings: ids[B, context_length] (host, validated < vocab) -> out[B, D] (host).
// Sequences are cut after their pooled token (causal attention makes later tokens irrelevant to
// it), so a batch runs at the length of its longest text, not at context_length.
Status encode_token_ids(Backend& be, const ModelConfig& cfg, int B, const int32_t* ids, float* out);

// The row whose output becomes the text embedding: argmax of ids (first maximum) or the first EOT
// (the last position when there is none, as transformers' argmax of an all-false mask gives 0 ...
// see forward.cpp for the exact rule).
int text_pool_index(const TextConfig& t, const int32_t* ids);

}  // namespace cuclip
