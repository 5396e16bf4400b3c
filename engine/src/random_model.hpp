// Standard CLIP architectures by name, and .cuclip files of them filled with random weights, so that
// `cuclip bench` and the tests can measure and exercise real shapes without downloading anything.
//
//   ModelConfig c;
//   CUCLIP_TRY(standard_shape("ViT-B/32", &c));
//   CUCLIP_TRY(write_random_model(c, "/tmp/b32.cuclip", RandomModelOptions{}));
//
// The shapes are those of the original checkpoints: OpenAI's ViT-B/32, B/16, L/14 and L/14@336
// (quick_gelu) and LAION's open_clip ViT-H/14 (exact gelu, vision head dim 80), each with its own
// text tower, the real CLIP BPE tokenizer (49408 tokens, 77 context) and the OpenAI preprocessing.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.hpp"
#include "model_config.hpp"

namespace cuclip {

// "ViT-B/32", "ViT-B/16", "ViT-L/14", "ViT-L/14@336", "ViT-H/14", smallest first.
const std::vector<std::string>& standard_shape_names();

// The config of a standard shape. Also accepts "tiny" (2 layers of width 64 per tower, 32-pixel
// images, the real tokenizer: for tests) and the open_clip spellings "ViT-B-32", "ViT-L-14-336".
// CUCLIP_ERR_INVALID_ARGUMENT naming the known shapes for anything else.
Status standard_shape(const std::string& name, ModelConfig* out);

// Number of weights in a model of this config (the sum over expected_tensors; no logit scale).
int64_t parameter_count(const ModelConfig& c);

// Multiply-adds x 2 of one forward of one image / one text of `tokens` tokens (GEMMs, attention
// and the patch embedding; norms and elementwise ops are not counted).
double image_forward_flops(const ModelConfig& c);
double text_forward_flops(const ModelConfig& c, int tokens);

struct RandomModelOptions {
  DType dtype = DType::F16;  // dtype of the matrices; norms, biases and positional tables stay f32
  uint64_t seed = 1;         // same seed and config: byte-identical file
  std::string bpe_path;      // bpe_simple_vocab_16e6.txt.gz; "" = the bundled copy
};

// Writes a valid .cuclip file of `config` with random weights (uniform, scaled like CLIP's
// initialisation so that activations stay finite through every layer). Deterministic in the seed.
// All-or-nothing: on failure no file is left at `path`.
Status write_random_model(const ModelConfig& config, const std::string& path, const RandomModelOptions& opts);

}  // namespace cuclip
