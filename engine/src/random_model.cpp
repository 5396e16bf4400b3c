// Standard CLIP shapes and random-weight model files (see random_model.hpp).
#include "random_model.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "base/half.hpp"
#include "cuclip/tokenizer.hpp"
#include "model_file.hpp"
#include "paths.hpp"
#include "templates.hpp"

namespace cuclip {

namespace {

TowerConfig tower(int width, int layers, int heads, Activation act) {
  TowerConfig t;
  t.width = width;
  t.layers = layers;
  t.heads = heads;
  t.head_dim = width / heads;
  t.mlp_dim = 4 * width;
  t.act = act;
  return t;
}

ModelConfig make_config(int embed_dim, int image_size, int patch, TowerConfig v, TowerConfig t) {
  ModelConfig c;
  c.embed_dim = embed_dim;
  static_cast<TowerConfig&>(c.vision) = v;
  c.vision.image_size = image_size;
  c.vision.patch_size = patch;
  c.vision.ln_pre = true;
  static_cast<TowerConfig&>(c.text) = t;
  c.text.context_length = 77;
  c.text.vocab_size = 49408;
  c.text.pool = TextPool::ArgmaxId;  // OpenAI and open_clip pool at the highest id (EOT)
  c.text.eot_id = 49407;
  c.logit_scale = std::log(100.0f);  // the value trained CLIP models converge to
  return c;
}

std::string canonical_name(const std::string& name) {
  // open_clip spells "ViT-B-32", "ViT-L-14-336"; accept those too.
  if (name == "ViT-B-32") return "ViT-B/32";
  if (name == "ViT-B-16") return "ViT-B/16";
  if (name == "ViT-L-14") return "ViT-L/14";
  if (name == "ViT-L-14-336") return "ViT-L/14@336";
  if (name == "ViT-H-14") return "ViT-H/14";
  return name;
}

// splitmix64: tiny, fast, and good enough to make weights look random; seeded per tensor and per
// block so that the writer's two passes over a tensor (checksum, then data) produce the same bytes
// and blocks can be filled in parallel.
uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
  return h;
}

// How a tensor's values are drawn: uniform in center +- half_range.
struct Draw {
  float center, half_range;
};

Draw draw_for(const std::string& name, const std::vector<int64_t>& shape) {
  const bool is_bias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
  const bool is_norm = name.find(".ln") != std::string::npos;
  const float sqrt3 = std::sqrt(3.0f);  // uniform(-a, a) has std a / sqrt(3)
  if (is_norm && !is_bias) return {1.0f, 0.1f};  // LayerNorm gains near 1
  if (is_bias) return {0.0f, 0.02f};
  if (shape.size() >= 2) {
    // Matrices: std = fan_in^-0.5 keeps each GEMM's output at the scale of its input, so the
    // residual stream grows slowly and stays finite through 32 layers in f16.
    int64_t fan_in = 1;
    for (size_t d = 1; d < shape.size(); ++d) fan_in *= shape[d];
    if (name == "text.token_embed" || name == "vision.pos_embed" || name == "text.pos_embed") return {0.0f, 0.02f * sqrt3};
    return {0.0f, sqrt3 / std::sqrt((float)fan_in)};
  }
  return {0.0f, 0.02f * sqrt3};  // class embedding
}

constexpr uint64_t kBlock = 1 << 16;  // elements per independently seeded block

Status fill_random(uint8_t* dst, uint64_t bytes, DType dt, Draw d, uint64_t tensor_seed) {
  const uint64_t n = bytes / dtype_size(dt), blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < (int64_t)blocks; ++b) {
    uint64_t s = tensor_seed ^ ((uint64_t)b * 0xD1B54A32D192ED03ull);
    const uint64_t end = std::min(n, (uint64_t)(b + 1) * kBlock);
    for (uint64_t i = (uint64_t)b * kBlock; i < end; ++i) {
      // 24 random bits -> [-1, 1)
      const float u = (float)(splitmix(s) >> 40) * (2.0f / 16777216.0f) - 1.0f;
      const float v = d.center + d.half_range * u;
      if (dt == DType::F32) std::memcpy(dst + 4 * i, &v, 4);
      else {
        const uint16_t h = dt == DType::F16 ? f32_to_f16(v) : f32_to_bf16(v);
        std::memcpy(dst + 2 * i, &h, 2);
      }
    }
  }
  return Status::Ok();
}

}  // namespace

const std::vector<std::string>& standard_shape_names() {
  static const std::vector<std::string> names = {"ViT-B/32", "ViT-B/16", "ViT-L/14", "ViT-L/14@336", "ViT-H/14"};
  return names;
}

Status standard_shape(const std::string& name, ModelConfig* out) {
  const std::string n = canonical_name(name);
  const Activation q = Activation::QuickGelu, g = Activation::GeluErf;
  // OpenAI's text tower for B models: 512 wide, 8 heads; for L: 768 wide, 12 heads.
  if (n == "ViT-B/32") *out = make_config(512, 224, 32, tower(768, 12, 12, q), tower(512, 12, 8, q));
  else if (n == "ViT-B/16") *out = make_config(512, 224, 16, tower(768, 12, 12, q), tower(512, 12, 8, q));
  else if (n == "ViT-L/14") *out = make_config(768, 224, 14, tower(1024, 24, 16, q), tower(768, 12, 12, q));
  else if (n == "ViT-L/14@336") *out = make_config(768, 336, 14, tower(1024, 24, 16, q), tower(768, 12, 12, q));
  // LAION's open_clip ViT-H-14: exact GELU, vision 16 heads of 80, text 1024 wide with 16 heads.
  else if (n == "ViT-H/14") *out = make_config(1024, 224, 14, tower(1280, 32, 16, g), tower(1024, 24, 16, g));
  else if (n == "tiny") *out = make_config(32, 32, 8, tower(64, 2, 2, q), tower(64, 2, 2, q));
  else {
    std::string known;
    for (const std::string& s : standard_shape_names()) known += s + ", ";
    return Err(CUCLIP_ERR_INVALID_ARGUMENT, "unknown model shape '" + name + "' (known: " + known + "tiny)");
  }
  return Status::Ok();
}

int64_t parameter_count(const ModelConfig& c) {
  int64_t n = 0;
  for (const TensorSpec& t : expected_tensors(c)) {
    int64_t e = 1;
    for (int64_t d : t.shape) e *= d;
    n += e;
  }
  return n;
}

double image_forward_flops(const ModelConfig& c) {
  const VisionConfig& v = c.vision;
  const double T = v.tokens(), N = T - 1, C = v.width, M = v.mlp_dim, P = v.patch_size;
  const double per_layer = 2 * T * (4 * C * C + 2 * C * M) + 4 * T * T * C;  // qkv+out, mlp; QK^T and AV
  return 2 * N * 3 * P * P * C + v.layers * per_layer + 2 * C * c.embed_dim;
}

double text_forward_flops(const ModelConfig& c, int tokens) {
  const TextConfig& t = c.text;
  const double T = tokens, C = t.width, M = t.mlp_dim;
  const double per_layer = 2 * T * (4 * C * C + 2 * C * M) + 4 * T * T * C;  // causal half not subtracted
  return t.layers * per_layer + 2 * C * c.embed_dim;
}

Status write_random_model(const ModelConfig& config, const std::string& path, const RandomModelOptions& opts) {
  ModelWriter w;
  w.config = config;
  w.file_dtype = opts.dtype;
  w.preprocess.size = config.vision.image_size;  // OpenAI preprocessing at the model's resolution

  std::string bpe;
  CUCLIP_TRY(tok::load_bundled_clip_bpe(opts.bpe_path.empty() ? find_data_file("bpe_simple_vocab_16e6.txt.gz") : opts.bpe_path, &bpe));
  tok::TokenizerSpec spec;
  CUCLIP_TRY(tok::spec_from_clip_bpe(bpe, &spec));
  if ((int64_t)spec.vocab.size() != config.text.vocab_size)
    return Err(CUCLIP_ERR_INVALID_ARGUMENT, "random model: the CLIP tokenizer has " + std::to_string(spec.vocab.size()) +
                                                " tokens but the config's vocab_size is " + std::to_string(config.text.vocab_size));
  w.tokenizer.vocab = std::move(spec.vocab);
  w.tokenizer.merges = std::move(spec.merges);
  w.tokenizer.sot_id = spec.sot_id;
  w.tokenizer.eot_id = spec.eot_id;
  w.tokenizer.pad_id = 0;  // open_clip pads with 0
  w.tokenizer.context_length = config.text.context_length;
  w.tokenizer.clean = TextClean::OpenClip;
  w.templates = openai_imagenet_templates();
  w.source = nlohmann::json{{"layout", "random"}, {"seed", opts.seed}, {"generator", "cuclip random_model " CUCLIP_VERSION_STRING}};

  for (const TensorSpec& t : expected_tensors(config)) {
    const DType dt = tensor_is_kept_f32(t.name, t.shape.size()) ? DType::F32 : opts.dtype;
    const Draw d = draw_for(t.name, t.shape);
    const uint64_t seed = fnv1a(t.name) ^ (opts.seed * 0x9E3779B97F4A7C15ull);
    w.add_tensor(t.name, dt, t.shape, [dt, d, seed](uint8_t* dst, uint64_t bytes) { return fill_random(dst, bytes, dt, d, seed); });
  }
  return w.write(path);
}

}  // namespace cuclip
