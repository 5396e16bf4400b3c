// The architecture, tokenizer and preprocessing description stored in a .cuclip header, and the
// canonical tensor table every model must have. docs/format.md is the normative description.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.hpp"

namespace cuclip {

enum class Activation { QuickGelu, GeluErf };
enum class TextPool { ArgmaxId, FirstEot };
enum class DType { F32, F16, BF16 };

const char* dtype_name(DType d);
bool dtype_from_name(const std::string& s, DType* out);
inline uint64_t dtype_size(DType d) { return d == DType::F32 ? 4 : 2; }

struct TowerConfig {
  int width = 0;      // C
  int layers = 0;
  int heads = 0;      // NH
  int head_dim = 0;   // HD; width == heads * head_dim
  int mlp_dim = 0;
  Activation act = Activation::QuickGelu;
  float ln_eps = 1e-5f;
};

struct VisionConfig : TowerConfig {
  int image_size = 0;  // S
  int patch_size = 0;  // P <= S; the patch grid is floor(S / P) (trailing pixels dropped, as the conv does)
  bool ln_pre = true;
  int grid() const { return image_size / patch_size; }
  int tokens() const { return grid() * grid() + 1; }
};

struct TextConfig : TowerConfig {
  int context_length = 0;  // T
  int vocab_size = 0;      // V
  TextPool pool = TextPool::ArgmaxId;
  int eot_id = 0;          // for FirstEot pooling
};

struct ModelConfig {
  int embed_dim = 0;  // D
  VisionConfig vision;
  TextConfig text;
  float logit_scale = 0.0f;  // raw (log) value; logits use exp(logit_scale)
  std::optional<float> logit_bias;
};

enum class ResizeMode { Shortest, Squash, Longest };
enum class Interpolation { Bicubic, Bilinear, Nearest };
enum class ConvertOrder { ResizeCropThenRgb, RgbThenResizeCrop };
enum class CropRounding { Round, Floor };

struct PreprocessConfig {
  int size = 224;  // output side
  int resize_size = 0;  // shortest side before the center crop (transformers' size.shortest_edge); 0 = size
  ResizeMode resize_mode = ResizeMode::Shortest;
  Interpolation interpolation = Interpolation::Bicubic;
  float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
  float std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
  ConvertOrder order = ConvertOrder::ResizeCropThenRgb;
  CropRounding crop_rounding = CropRounding::Round;
  int fill = 0;  // pad value for Longest / crops larger than the image
};

enum class TextClean { OpenClip, HfFast };

struct TokenizerConfig {
  std::vector<std::string> vocab;   // id -> byte-level token string
  std::vector<std::string> merges;  // "a b" in rank order
  int sot_id = 49406, eot_id = 49407, pad_id = 0;
  int context_length = 77;
  TextClean clean = TextClean::OpenClip;
};

// Serialization of the config parts to/from the header JSON. from_json validates ranges and
// names the offending field ("config.vision.heads: must be in [1, 1024], got 0").
nlohmann::json config_to_json(const ModelConfig& c);
Status config_from_json(const nlohmann::json& j, ModelConfig* out);
nlohmann::json preprocess_to_json(const PreprocessConfig& p);
Status preprocess_from_json(const nlohmann::json& j, PreprocessConfig* out);
nlohmann::json tokenizer_to_json(const TokenizerConfig& t);
Status tokenizer_from_json(const nlohmann::json& j, TokenizerConfig* out);

// One tensor every model of this config must have, with its exact shape.
struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
};
std::vector<TensorSpec> expected_tensors(const ModelConfig& c);

// Tensors kept in f32 whatever the file dtype (norms, biases, embeddings added to activations).
bool tensor_is_kept_f32(const std::string& name, size_t rank);

}  // namespace cuclip
