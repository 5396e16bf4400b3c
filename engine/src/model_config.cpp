// JSON (de)serialization and validation of the model config, preprocessing preset and tokenizer,
// and the canonical tensor table. Every refusal names the field.
#include "model_config.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace cuclip {

using nlohmann::json;

const char* dtype_name(DType d) {
  switch (d) {
    case DType::F32: return "f32";
    case DType::F16: return "f16";
    case DType::BF16: return "bf16";
  }
  return "?";
}

bool dtype_from_name(const std::string& s, DType* out) {
  if (s == "f32") *out = DType::F32;
  else if (s == "f16") *out = DType::F16;
  else if (s == "bf16") *out = DType::BF16;
  else return false;
  return true;
}

namespace {

// Limits on architecture fields: generous for any real CLIP (ViT-bigG: width 1664, 48 layers,
// 16 heads of 104; image 448) while refusing absurd values before anything is sized by them.
constexpr int kMaxWidth = 16384, kMaxLayers = 256, kMaxHeads = 1024, kMaxHeadDim = 1024,
              kMaxMlp = 65536, kMaxImage = 4096, kMaxContext = 4096, kMaxVocab = 1 << 22, kMaxEmbed = 16384;

struct Reader {
  const json& j;
  std::string path;
  Status st;

  bool has(const char* k) const { return j.is_object() && j.contains(k); }
  int get_int(const char* k, int lo, int hi) {
    if (!st.ok()) return 0;
    if (!has(k)) { st = Err(CUCLIP_ERR_INVALID_MODEL, path + "." + k + ": missing"); return 0; }
    const json& v = j.at(k);
    if (!v.is_number_integer()) { st = Err(CUCLIP_ERR_INVALID_MODEL, path + "." + k + ": must be an integer"); return 0; }
    int64_t x = v.get<int64_t>();
    if (x < lo || x > hi) {
      st = Err(CUCLIP_ERR_INVALID_MODEL, path + "." + k + ": must be in [" + std::to_string(lo) + ", " +
                                             std::to_string(hi) + "], got " + std::to_string(x));
      return 0;
    }
    return (int)x;
  }
  double get_num(const char* k, double lo, double hi) {
    if (!st.ok()) return 0;
    if (!has(k)) { st = Err(CUCLIP_ERR_INVALID_MODEL, path + "." + k + ": missing"); return 0; }
    const json& v = j.at(k);
    if (!v.is_number()) { st = Err(CUCLIP_ERR_INVALID_MODEL, path + "." + k + ": must be a number"); return 0; }
    double x = v.get<double>();
    if (!std::isfinite(x) || x < lo || x > hi) {
      st = Err(CUCLIP_ERR_INVALID_MODEL, path + "." + k + ": must be a finite number in [" + std::to_string(lo) +
                                             ", " + std::to_string(hi) + "]");
      return 0;
    }
    return x;
  }
  bool get_bool(const char* k) {
    if (!st.ok()) return false;
    if (!has(k) || !j.at(k).is_boolean()) { st = Err(CUCLIP_ERR_INVALID_MODEL, path + "." + k + ": missing or not a boolean"); return false; }
    return j.at(k).get<bool>();
  }
  std::string get_enum(const char* k, std::initializer_list<const char*> allowed) {
    if (!st.ok()) return "";
    if (!has(k) || !j.at(k).is_string()) { st = Err(CUCLIP_ERR_INVALID_MODEL, path + "." + k + ": missing or not a string"); return ""; }
    std::string v = j.at(k).get<std::string>();
    std::string list;
    for (const char* a : allowed) {
      if (v == a) return v;
      list += std::string(list.empty() ? "" : ", ") + a;
    }
    st = Err(CUCLIP_ERR_INVALID_MODEL, path + "." + k + ": '" + v + "' is not one of " + list);
    return "";
  }
};

// The shortest decimal that reads back as the same float (1e-05, not 9.99999974737875e-06).
std::string shortest(float v) {
  char b[32];
  for (int prec = 6; prec <= 9; ++prec) {
    std::snprintf(b, sizeof b, "%.*g", prec, (double)v);
    if (std::strtof(b, nullptr) == v) break;
  }
  return b;
}

json tower_to_json(const TowerConfig& t) {
  return json{{"width", t.width}, {"layers", t.layers}, {"heads", t.heads}, {"head_dim", t.head_dim},
              {"mlp_dim", t.mlp_dim}, {"activation", t.act == Activation::QuickGelu ? "quick_gelu" : "gelu"},
              {"ln_eps", std::stod(shortest(t.ln_eps))}};
}

void tower_from_json(Reader& r, TowerConfig* t) {
  t->width = r.get_int("width", 1, kMaxWidth);
  t->layers = r.get_int("layers", 1, kMaxLayers);
  t->heads = r.get_int("heads", 1, kMaxHeads);
  t->head_dim = r.get_int("head_dim", 1, kMaxHeadDim);
  t->mlp_dim = r.get_int("mlp_dim", 1, kMaxMlp);
  t->act = r.get_enum("activation", {"quick_gelu", "gelu"}) == "gelu" ? Activation::GeluErf : Activation::QuickGelu;
  t->ln_eps = (float)r.get_num("ln_eps", 1e-12, 1e-1);
  if (r.st.ok() && (int64_t)t->heads * t->head_dim != t->width)
    r.st = Err(CUCLIP_ERR_INVALID_MODEL, r.path + ": heads * head_dim (" + std::to_string(t->heads) + " * " +
                                             std::to_string(t->head_dim) + ") must equal width " + std::to_string(t->width));
}

}  // namespace

json config_to_json(const ModelConfig& c) {
  json v = tower_to_json(c.vision);
  v["image_size"] = c.vision.image_size;
  v["patch_size"] = c.vision.patch_size;
  v["ln_pre"] = c.vision.ln_pre;
  json t = tower_to_json(c.text);
  t["context_length"] = c.text.context_length;
  t["vocab_size"] = c.text.vocab_size;
  t["pool"] = c.text.pool == TextPool::ArgmaxId ? "argmax" : "first_eot";
  t["eot_id"] = c.text.eot_id;
  json j{{"embed_dim", c.embed_dim}, {"vision", v}, {"text", t}, {"logit_scale", c.logit_scale}};
  j["logit_bias"] = c.logit_bias ? json(*c.logit_bias) : json(nullptr);
  return j;
}

Status config_from_json(const json& j, ModelConfig* out) {
  if (!j.is_object()) return Err(CUCLIP_ERR_INVALID_MODEL, "config: missing or not an object");
  ModelConfig c;
  Reader r{j, "config", {}};
  c.embed_dim = r.get_int("embed_dim", 1, kMaxEmbed);
  c.logit_scale = (float)r.get_num("logit_scale", -100, 100);
  if (r.st.ok() && j.contains("logit_bias") && !j["logit_bias"].is_null()) c.logit_bias = (float)r.get_num("logit_bias", -1e6, 1e6);
  CUCLIP_TRY(r.st);
  if (!j.contains("vision") || !j["vision"].is_object()) return Err(CUCLIP_ERR_INVALID_MODEL, "config.vision: missing or not an object");
  if (!j.contains("text") || !j["text"].is_object()) return Err(CUCLIP_ERR_INVALID_MODEL, "config.text: missing or not an object");
  Reader rv{j["vision"], "config.vision", {}};
  tower_from_json(rv, &c.vision);
  c.vision.image_size = rv.get_int("image_size", 1, kMaxImage);
  c.vision.patch_size = rv.get_int("patch_size", 1, kMaxImage);
  c.vision.ln_pre = rv.get_bool("ln_pre");
  CUCLIP_TRY(rv.st);
  // Like PyTorch's strided conv, a patch grid of floor(S / P): trailing pixels are dropped.
  if (c.vision.patch_size > c.vision.image_size)
    return Err(CUCLIP_ERR_INVALID_MODEL, "config.vision: patch_size " + std::to_string(c.vision.patch_size) +
                                             " is larger than image_size " + std::to_string(c.vision.image_size));
  Reader rt{j["text"], "config.text", {}};
  tower_from_json(rt, &c.text);
  c.text.context_length = rt.get_int("context_length", 2, kMaxContext);
  c.text.vocab_size = rt.get_int("vocab_size", 1, kMaxVocab);
  c.text.pool = rt.get_enum("pool", {"argmax", "first_eot"}) == "first_eot" ? TextPool::FirstEot : TextPool::ArgmaxId;
  c.text.eot_id = rt.get_int("eot_id", 0, kMaxVocab);
  CUCLIP_TRY(rt.st);
  if (c.text.eot_id >= c.text.vocab_size)
    return Err(CUCLIP_ERR_INVALID_MODEL, "config.text.eot_id " + std::to_string(c.text.eot_id) + " is not below vocab_size");
  *out = c;
  return Status::Ok();
}

json preprocess_to_json(const PreprocessConfig& p) {
  return json{{"size", p.size},
              {"resize_size", p.resize_size},
              {"resize_mode", p.resize_mode == ResizeMode::Shortest ? "shortest" : p.resize_mode == ResizeMode::Squash ? "squash" : "longest"},
              {"interpolation", p.interpolation == Interpolation::Bicubic ? "bicubic" : p.interpolation == Interpolation::Bilinear ? "bilinear" : "nearest"},
              {"mean", {p.mean[0], p.mean[1], p.mean[2]}},
              {"std", {p.std[0], p.std[1], p.std[2]}},
              {"order", p.order == ConvertOrder::ResizeCropThenRgb ? "resize_crop_rgb" : "rgb_resize_crop"},
              {"crop_rounding", p.crop_rounding == CropRounding::Round ? "round" : "floor"},
              {"fill", p.fill}};
}

Status preprocess_from_json(const json& j, PreprocessConfig* out) {
  if (!j.is_object()) return Err(CUCLIP_ERR_INVALID_MODEL, "preprocess: missing or not an object");
  PreprocessConfig p;
  Reader r{j, "preprocess", {}};
  p.size = r.get_int("size", 1, kMaxImage);
  std::string rm = r.get_enum("resize_mode", {"shortest", "squash", "longest"});
  p.resize_mode = rm == "squash" ? ResizeMode::Squash : rm == "longest" ? ResizeMode::Longest : ResizeMode::Shortest;
  std::string in = r.get_enum("interpolation", {"bicubic", "bilinear", "nearest"});
  p.interpolation = in == "bilinear" ? Interpolation::Bilinear : in == "nearest" ? Interpolation::Nearest : Interpolation::Bicubic;
  p.order = r.get_enum("order", {"resize_crop_rgb", "rgb_resize_crop"}) == "rgb_resize_crop" ? ConvertOrder::RgbThenResizeCrop
                                                                                              : ConvertOrder::ResizeCropThenRgb;
  p.crop_rounding = r.get_enum("crop_rounding", {"round", "floor"}) == "floor" ? CropRounding::Floor : CropRounding::Round;
  p.fill = r.get_int("fill", 0, 255);
  p.resize_size = j.contains("resize_size") ? r.get_int("resize_size", 0, kMaxImage) : 0;
  CUCLIP_TRY(r.st);
  for (const char* key : {"mean", "std"}) {
    if (!j.contains(key) || !j[key].is_array() || j[key].size() != 3)
      return Err(CUCLIP_ERR_INVALID_MODEL, std::string("preprocess.") + key + ": must be an array of 3 numbers");
    for (int i = 0; i < 3; ++i) {
      const json& v = j[key][i];
      // Checked as the float that is kept: 1e300 is a finite double but an infinite float.
      const float f = v.is_number() ? v.get<float>() : NAN;
      if (!std::isfinite(f))
        return Err(CUCLIP_ERR_INVALID_MODEL, std::string("preprocess.") + key + ": must be an array of 3 numbers finite as floats");
      (std::string(key) == "mean" ? p.mean : p.std)[i] = f;
    }
  }
  for (int i = 0; i < 3; ++i)
    if (!(p.std[i] > 0)) return Err(CUCLIP_ERR_INVALID_MODEL, "preprocess.std: must be positive (as a float)");
  *out = p;
  return Status::Ok();
}

json tokenizer_to_json(const TokenizerConfig& t) {
  return json{{"type", "clip_bpe"},
              {"clean", t.clean == TextClean::OpenClip ? "openclip" : "hf_fast"},
              {"sot_id", t.sot_id},
              {"eot_id", t.eot_id},
              {"pad_id", t.pad_id},
              {"context_length", t.context_length},
              {"vocab", t.vocab},
              {"merges", t.merges}};
}

Status tokenizer_from_json(const json& j, TokenizerConfig* out) {
  if (!j.is_object()) return Err(CUCLIP_ERR_INVALID_MODEL, "tokenizer: missing or not an object");
  TokenizerConfig t;
  Reader r{j, "tokenizer", {}};
  r.get_enum("type", {"clip_bpe"});
  t.clean = r.get_enum("clean", {"openclip", "hf_fast"}) == "hf_fast" ? TextClean::HfFast : TextClean::OpenClip;
  t.sot_id = r.get_int("sot_id", 0, kMaxVocab);
  t.eot_id = r.get_int("eot_id", 0, kMaxVocab);
  t.pad_id = r.get_int("pad_id", 0, kMaxVocab);
  t.context_length = r.get_int("context_length", 2, kMaxContext);
  CUCLIP_TRY(r.st);
  for (const char* key : {"vocab", "merges"}) {
    if (!j.contains(key) || !j[key].is_array()) return Err(CUCLIP_ERR_INVALID_MODEL, std::string("tokenizer.") + key + ": missing or not an array");
    auto& dst = std::string(key) == "vocab" ? t.vocab : t.merges;
    dst.reserve(j[key].size());
    for (const json& s : j[key]) {
      if (!s.is_string()) return Err(CUCLIP_ERR_INVALID_MODEL, std::string("tokenizer.") + key + ": every entry must be a string");
      dst.push_back(s.get<std::string>());
    }
  }
  const int64_t nv = (int64_t)t.vocab.size();
  for (auto [name, id] : {std::pair{"sot_id", t.sot_id}, std::pair{"eot_id", t.eot_id}, std::pair{"pad_id", t.pad_id}})
    if (id >= nv) return Err(CUCLIP_ERR_INVALID_MODEL, std::string("tokenizer.") + name + " " + std::to_string(id) + " is outside the vocab of " + std::to_string(nv));
  *out = std::move(t);
  return Status::Ok();
}

std::vector<TensorSpec> expected_tensors(const ModelConfig& c) {
  std::vector<TensorSpec> v;
  auto add = [&](std::string n, std::vector<int64_t> s) { v.push_back({std::move(n), std::move(s)}); };
  auto blocks = [&](const std::string& p, const TowerConfig& t) {
    const int64_t C = t.width, M = t.mlp_dim;
    for (int i = 0; i < t.layers; ++i) {
      std::string b = p + ".blocks." + std::to_string(i) + ".";
      add(b + "ln1.weight", {C});
      add(b + "ln1.bias", {C});
      add(b + "attn.qkv.weight", {3 * C, C});
      add(b + "attn.qkv.bias", {3 * C});
      add(b + "attn.out.weight", {C, C});
      add(b + "attn.out.bias", {C});
      add(b + "ln2.weight", {C});
      add(b + "ln2.bias", {C});
      add(b + "mlp.fc1.weight", {M, C});
      add(b + "mlp.fc1.bias", {M});
      add(b + "mlp.fc2.weight", {C, M});
      add(b + "mlp.fc2.bias", {C});
    }
  };
  const auto& vc = c.vision;
  const int64_t VW = vc.width, P = vc.patch_size;
  add("vision.patch_embed.weight", {VW, 3, P, P});
  add("vision.class_embedding", {VW});
  add("vision.pos_embed", {vc.tokens(), VW});
  if (vc.ln_pre) {
    add("vision.ln_pre.weight", {VW});
    add("vision.ln_pre.bias", {VW});
  }
  blocks("vision", vc);
  add("vision.ln_post.weight", {VW});
  add("vision.ln_post.bias", {VW});
  add("vision.proj.weight", {c.embed_dim, VW});
  const auto& tc = c.text;
  add("text.token_embed", {tc.vocab_size, tc.width});
  add("text.pos_embed", {tc.context_length, tc.width});
  blocks("text", tc);
  add("text.ln_final.weight", {tc.width});
  add("text.ln_final.bias", {tc.width});
  add("text.proj.weight", {c.embed_dim, tc.width});
  return v;
}

bool tensor_is_kept_f32(const std::string& name, size_t rank) {
  return rank < 2 || name == "vision.pos_embed" || name == "text.pos_embed";
}

}  // namespace cuclip
