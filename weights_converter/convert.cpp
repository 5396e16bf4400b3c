// Converting checkpoint directories. Both layouts are mapped onto cuclip's canonical tensor names
// (model_config.cpp: expected_tensors), with linear weights stored [out, in]:
//   transformers: q/k/v projections concatenated into qkv; projections already [out, in].
//   open_clip:    in_proj_weight is already q;k;v; visual.proj and text_projection are [in, out]
//                 and are transposed.
#include "convert.hpp"

#include <cmath>
#include <cstring>
#include <functional>
#include <set>

#include <nlohmann/json.hpp>

#include "base/file.hpp"
#include "base/half.hpp"
#include "cuclip/tokenizer.hpp"
#include "model.hpp"  // tokenizer_spec_from_config: the spec the engine builds its tokenizer from
#include "model_file.hpp"
#include "safetensors.hpp"
#include "paths.hpp"
#include "templates.hpp"

namespace cuclip::convert {

using nlohmann::json;

namespace {

constexpr uint64_t kMaxJsonFile = 64ull << 20;

Status read_json(const std::string& path, json* out) {
  std::string text;
  CUCLIP_TRY(read_text_file(path, kMaxJsonFile, &text));
  *out = json::parse(text, nullptr, false);
  if (out->is_discarded()) return Err(CUCLIP_ERR_INVALID_MODEL, "'" + path + "' is not valid JSON");
  if (!out->is_object()) return Err(CUCLIP_ERR_INVALID_MODEL, "'" + path + "' is not a JSON object");
  return Status::Ok();
}

// A typed field reader for source configs: missing fields take the library's default, present
// fields must have the right type and a sane value; errors name the file and field.
struct Cfg {
  const json& j;
  std::string where;
  Status st;
  int get_int(const char* k, int def, int lo = 1, int hi = 1 << 24) {
    if (!st.ok()) return def;
    if (!j.contains(k) || j[k].is_null()) return def;
    if (!j[k].is_number_integer()) { st = Err(CUCLIP_ERR_INVALID_MODEL, where + "." + k + ": must be an integer"); return def; }
    int64_t v = j[k].get<int64_t>();
    if (v < lo || v > hi) { st = Err(CUCLIP_ERR_INVALID_MODEL, where + "." + k + ": " + std::to_string(v) + " is out of range"); return def; }
    return (int)v;
  }
  double get_num(const char* k, double def, double lo = -HUGE_VAL, double hi = HUGE_VAL) {
    if (!st.ok()) return def;
    if (!j.contains(k) || j[k].is_null()) return def;
    if (!j[k].is_number() || !std::isfinite(j[k].get<double>())) { st = Err(CUCLIP_ERR_INVALID_MODEL, where + "." + k + ": must be a finite number"); return def; }
    const double v = j[k].get<double>();
    if (v < lo || v > hi) { st = Err(CUCLIP_ERR_INVALID_MODEL, where + "." + k + ": " + j[k].dump() + " is out of range"); return def; }
    return v;
  }
  std::string get_str(const char* k, const std::string& def) {
    if (!st.ok()) return def;
    if (!j.contains(k) || j[k].is_null()) return def;
    if (!j[k].is_string()) { st = Err(CUCLIP_ERR_INVALID_MODEL, where + "." + k + ": must be a string"); return def; }
    return j[k].get<std::string>();
  }
  bool get_bool(const char* k, bool def) {
    if (!st.ok()) return def;
    if (!j.contains(k) || j[k].is_null()) return def;
    if (!j[k].is_boolean()) { st = Err(CUCLIP_ERR_INVALID_MODEL, where + "." + k + ": must be true or false"); return def; }
    return j[k].get<bool>();
  }
};

// One output tensor assembled from source pieces stacked along dim 0 (each optionally a transposed
// 2-D source), converted to the output dtype.
struct Piece {
  const StTensor* src;
  bool transpose;
};

float load_elem(const StTensor& t, int64_t i) {
  switch (t.dtype) {
    case StDType::F32: { float v; std::memcpy(&v, t.data + 4 * i, 4); return v; }
    case StDType::F16: { uint16_t h; std::memcpy(&h, t.data + 2 * i, 2); return f16_to_f32(h); }
    case StDType::BF16: { uint16_t h; std::memcpy(&h, t.data + 2 * i, 2); return bf16_to_f32(h); }
    default: return NAN;
  }
}

class Builder {
 public:
  Builder(const Checkpoint& ck, ModelWriter& w, DType file_dtype) : ck_(ck), w_(w), file_dtype_(file_dtype) {}

  const StTensor* get(const std::string& name) {
    const StTensor* t = ck_.find(name);
    if (t) used_.insert(name);
    return t;
  }

  // Adds canonical tensor `name` of `shape` from the source pieces (concatenated along dim 0).
  Status add(const std::string& name, std::vector<int64_t> shape, std::vector<std::string> srcs, bool transpose = false) {
    std::vector<Piece> pieces;
    int64_t rows = 0;
    for (const std::string& s : srcs) {
      const StTensor* t = get(s);
      if (!t) return Err(CUCLIP_ERR_INVALID_MODEL, "tensor '" + s + "' is missing from the checkpoint");
      if (t->dtype != StDType::F32 && t->dtype != StDType::F16 && t->dtype != StDType::BF16)
        return Err(CUCLIP_ERR_INVALID_MODEL, "tensor '" + s + "' in '" + t->file + "' has dtype " + t->dtype_name + "; only F32, F16 and BF16 weights can be converted");
      std::vector<int64_t> sh = t->shape;
      if (transpose) {
        if (sh.size() != 2) return Err(CUCLIP_ERR_INVALID_MODEL, "tensor '" + s + "' should be 2-D");
        std::swap(sh[0], sh[1]);
      }
      // Piece shape must equal the target shape except along dim 0 (where pieces stack).
      bool ok = sh.size() == shape.size() && !sh.empty();
      for (size_t d = 1; ok && d < sh.size(); ++d) ok = sh[d] == shape[d];
      if (shape.empty()) ok = sh.empty() || (sh.size() == 1 && sh[0] == 1);
      if (!ok) return Err(CUCLIP_ERR_INVALID_MODEL, "tensor '" + s + "' has shape " + fmt(t->shape) + ", which does not fit '" + name + "' " + fmt(shape) + " of the configured architecture");
      rows += sh.empty() ? 1 : sh[0];
      pieces.push_back({t, transpose});
    }
    if (!shape.empty() && rows != shape[0])
      return Err(CUCLIP_ERR_INVALID_MODEL, "source tensors for '" + name + "' have " + std::to_string(rows) + " rows; the config requires " + std::to_string(shape[0]));
    const DType dt = tensor_is_kept_f32(name, shape.size()) ? DType::F32 : file_dtype_;
    w_.add_tensor(name, dt, shape, [pieces, dt, name](uint8_t* dst, uint64_t bytes) -> Status {
      uint64_t k = 0;
      const uint64_t n = bytes / dtype_size(dt);
      for (const Piece& p : pieces) {
        const StTensor& t = *p.src;
        const int64_t cnt = t.numel();
        const int64_t R = t.shape.size() == 2 ? t.shape[0] : 1, Cc = t.shape.size() == 2 ? t.shape[1] : cnt;
        for (int64_t i = 0; i < cnt; ++i, ++k) {
          // element k of the output comes from source index i (row-major), or its transpose
          int64_t src_i = i;
          if (p.transpose) { int64_t r = i / R, c = i % R; src_i = c * Cc + r; }
          float v = load_elem(t, src_i);
          if (!std::isfinite(v)) return Err(CUCLIP_ERR_INVALID_MODEL, "tensor '" + t.name + "' holds a NaN or Inf value at element " + std::to_string(src_i));
          if (dt == DType::F32) std::memcpy(dst + 4 * k, &v, 4);
          else {
            uint16_t h = dt == DType::F16 ? f32_to_f16(v) : f32_to_bf16(v);
            float back = dt == DType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
            if (!std::isfinite(back))
              return Err(CUCLIP_ERR_INVALID_MODEL, "tensor '" + t.name + "': value " + std::to_string(v) + " overflows " + dtype_name(dt) + "; convert with --dtype f32 or bf16");
            std::memcpy(dst + 2 * k, &h, 2);
          }
        }
      }
      if (k != n) return Err(CUCLIP_ERR_INTERNAL, "converter size mismatch for '" + name + "'");
      return Status::Ok();
    });
    return Status::Ok();
  }

  // Every checkpoint tensor must have been used or be a known buffer.
  Status check_all_used(const std::function<bool(const std::string&)>& ignorable) const {
    for (const auto& [name, t] : ck_.tensors())
      if (!used_.count(name) && !ignorable(name))
        return Err(CUCLIP_ERR_INVALID_MODEL, "tensor '" + name + "' in '" + t.file + "' is not part of a CLIP model cuclip can convert (unknown tensor)");
    return Status::Ok();
  }

  static std::string fmt(const std::vector<int64_t>& s) {
    std::string r = "[";
    for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
    return r + "]";
  }

 private:
  const Checkpoint& ck_;
  ModelWriter& w_;
  DType file_dtype_;
  std::set<std::string> used_;
};

float scalar_value(const StTensor* t) { return t && t->numel() == 1 ? load_elem(*t, 0) : NAN; }

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

Status activation_from_hf(const std::string& act, const std::string& where, Activation* out) {
  if (act == "quick_gelu") *out = Activation::QuickGelu;
  else if (act == "gelu") *out = Activation::GeluErf;
  else return Err(CUCLIP_ERR_INVALID_MODEL, where + ".hidden_act '" + act + "' is not supported (quick_gelu or gelu)");
  return Status::Ok();
}

// An integer JSON value read without narrowing: 2^32 + 8 must be refused, not taken for 8.
bool int_in_range(const json& v, int lo, int hi, int* out) {
  if (!v.is_number_integer()) return false;
  if (v.is_number_unsigned() && v.get<uint64_t>() > (uint64_t)INT64_MAX) return false;
  const int64_t x = v.get<int64_t>();
  if (x < lo || x > hi) return false;
  *out = (int)x;
  return true;
}

// One normalization constant as the model file stores it (a float): finite after narrowing, and a
// std also positive after narrowing (1e300 becomes inf, 1e-50 becomes 0).
Status normalization_value(const json& v, bool is_std, const std::string& what, float* out) {
  const float f = v.get<float>();
  if (!std::isfinite(f) || (is_std && !(f > 0)))
    return Err(CUCLIP_ERR_INVALID_MODEL, what + ": " + v.dump() + (is_std ? " is not a positive finite float" : " is not a finite float"));
  *out = f;
  return Status::Ok();
}

// The MLP width open_clip derives, int(width * mlp_ratio), computed only once it fits the format.
Status mlp_width(int width, double ratio, const std::string& what, int* out) {
  constexpr double kMaxMlp = 65536;  // docs/format.md: mlp_dim in [1, 65536]
  const double m = width * ratio;
  if (!(ratio > 0) || !(m >= 1 && m < kMaxMlp + 1))
    return Err(CUCLIP_ERR_INVALID_MODEL, what + ".mlp_ratio " + json(ratio).dump() + " gives an MLP width outside [1, 65536] for width " + std::to_string(width));
  *out = (int)m;
  return Status::Ok();
}

// merges.txt is the one tokenizer source read as raw text (vocab.json and tokenizer.json go through
// the JSON parser, which refuses invalid UTF-8); the model header stores merges as JSON strings.
Status check_merges_are_utf8(const std::vector<std::string>& merges, const std::string& file) {
  for (size_t i = 0; i < merges.size(); ++i) {
    try {
      (void)json(merges[i]).dump();  // the writer's own serializer decides what it can store
    } catch (const json::exception&) {
      return Err(CUCLIP_ERR_INVALID_MODEL, "'" + file + "': merge " + std::to_string(i + 1) + " is not valid UTF-8");
    }
  }
  return Status::Ok();
}

// Builds the tokenizer the engine will build when it loads the model (engine/src/model.cpp does
// the same from the same spec), so that what it would refuse is refused here, naming the sources.
Status check_tokenizer_builds(const TokenizerConfig& t, const std::string& sources) {
  std::unique_ptr<tok::Tokenizer> built;
  const Status s = tok::Tokenizer::create(tokenizer_spec_from_config(t), &built);
  if (!s.ok()) return Err(CUCLIP_ERR_INVALID_MODEL, sources + ": the tokenizer cannot be built: " + s.message);
  return Status::Ok();
}

std::string find_bundled_bpe(const std::string& given) {
  if (!given.empty()) return given;
  return find_data_file("bpe_simple_vocab_16e6.txt.gz");
}

Status clip_bpe_tokenizer(const std::string& bpe_path, TokenizerConfig* out) {
  std::string text;
  CUCLIP_TRY(tok::load_bundled_clip_bpe(bpe_path, &text));
  tok::TokenizerSpec spec;
  CUCLIP_TRY(tok::spec_from_clip_bpe(text, &spec));
  out->vocab = std::move(spec.vocab);
  out->merges = std::move(spec.merges);
  out->sot_id = spec.sot_id;
  out->eot_id = spec.eot_id;
  out->pad_id = 0;
  out->clean = TextClean::OpenClip;
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// transformers

// The tokenizer from vocab.json + merges.txt or tokenizer.json; *sources names the files read.
Status hf_tokenizer(const std::string& dir, TokenizerConfig* out, std::string* sources) {
  tok::TokenizerSpec spec;
  const std::string vj = path_join(dir, "vocab.json"), mt = path_join(dir, "merges.txt"), tj = path_join(dir, "tokenizer.json");
  if (file_exists(vj) && file_exists(mt)) {
    std::string v, m;
    CUCLIP_TRY(read_text_file(vj, kMaxJsonFile, &v));
    CUCLIP_TRY(read_text_file(mt, kMaxJsonFile, &m));
    *sources = "'" + vj + "' / '" + mt + "'";
    Status s = tok::spec_from_hf_vocab_merges(v, m, &spec);
    if (!s.ok()) return Err(s.code, *sources + ": " + s.message);
    CUCLIP_TRY(check_merges_are_utf8(spec.merges, mt));
  } else if (file_exists(tj)) {
    std::string t;
    CUCLIP_TRY(read_text_file(tj, kMaxJsonFile, &t));
    *sources = "'" + tj + "'";
    Status s = tok::spec_from_hf_tokenizer_json(t, &spec);
    if (!s.ok()) return Err(s.code, *sources + ": " + s.message);
  } else {
    return Err(CUCLIP_ERR_INVALID_MODEL, "'" + dir + "' has no tokenizer files (vocab.json + merges.txt, or tokenizer.json)");
  }
  out->vocab = std::move(spec.vocab);
  out->merges = std::move(spec.merges);
  out->sot_id = spec.sot_id;
  out->eot_id = spec.eot_id;
  out->pad_id = spec.pad_id;
  out->clean = TextClean::HfFast;
  // The pad token, when the tokenizer config names one.
  for (const char* f : {"tokenizer_config.json", "special_tokens_map.json"}) {
    const std::string p = path_join(dir, f);
    if (!file_exists(p)) continue;
    json j;
    CUCLIP_TRY(read_json(p, &j));
    if (!j.contains("pad_token")) continue;
    std::string pad = j["pad_token"].is_string() ? j["pad_token"].get<std::string>()
                      : j["pad_token"].is_object() && j["pad_token"].value("content", json()).is_string() ? j["pad_token"]["content"].get<std::string>() : "";
    for (size_t i = 0; i < out->vocab.size(); ++i)
      if (!pad.empty() && out->vocab[i] == pad) { out->pad_id = (int)i; break; }
    break;
  }
  return Status::Ok();
}

Status hf_preprocess(const std::string& dir, int image_size, PreprocessConfig* p) {
  const std::string path = path_join(dir, "preprocessor_config.json");
  p->size = image_size;
  p->order = ConvertOrder::RgbThenResizeCrop;
  p->crop_rounding = CropRounding::Floor;
  if (!file_exists(path)) return Err(CUCLIP_ERR_INVALID_MODEL, "'" + path + "' is missing (the image preprocessing cannot be known)");
  json j;
  CUCLIP_TRY(read_json(path, &j));
  Cfg c{j, path, {}};
  // "size": {"shortest_edge": N} (new) or N (old); "crop_size": {"height", "width"} or N.
  auto side = [&](const char* key, const char* sub, int* out) -> Status {
    if (!j.contains(key)) return Err(CUCLIP_ERR_INVALID_MODEL, path + ": '" + key + "' is missing");
    const json& v = j[key];
    const json* n = nullptr;  // the integer giving the side
    if (v.is_number_integer()) n = &v;
    else if (v.is_object() && sub && v.contains(sub) && v[sub].is_number_integer()) n = &v[sub];
    else if (v.is_object() && v.contains("height") && v.contains("width") && v["height"].is_number_integer() && v["width"].is_number_integer()) {
      if (v["height"] != v["width"]) return Err(CUCLIP_ERR_INVALID_MODEL, path + ": non-square '" + key + "' is not supported");
      n = &v["height"];
    } else return Err(CUCLIP_ERR_INVALID_MODEL, path + ": '" + key + "' has an unsupported form " + v.dump());
    if (!int_in_range(*n, 1, 4096, out)) return Err(CUCLIP_ERR_INVALID_MODEL, path + ": '" + key + "' " + n->dump() + " is out of range");
    return Status::Ok();
  };
  int resize = 0, crop = 0;
  CUCLIP_TRY(side("size", "shortest_edge", &resize));
  CUCLIP_TRY(side("crop_size", nullptr, &crop));
  if (!c.get_bool("do_resize", true) || !c.get_bool("do_center_crop", true) || !c.get_bool("do_normalize", true) || !c.get_bool("do_rescale", true))
    return Err(CUCLIP_ERR_INVALID_MODEL, path + ": do_resize, do_center_crop, do_rescale and do_normalize must all be true");
  if (crop != image_size) return Err(CUCLIP_ERR_INVALID_MODEL, path + ": crop_size " + std::to_string(crop) + " differs from the vision image_size " + std::to_string(image_size));
  if (resize < crop) return Err(CUCLIP_ERR_INVALID_MODEL, path + ": resizing to " + std::to_string(resize) + " before a " + std::to_string(crop) + " crop is not supported");
  p->resize_size = resize == crop ? 0 : resize;
  const double rescale = c.get_num("rescale_factor", 1.0 / 255);
  if (std::fabs(rescale - 1.0 / 255) > 1e-12) return Err(CUCLIP_ERR_INVALID_MODEL, path + ": rescale_factor must be 1/255");
  int resample = c.get_int("resample", 3, 0, 5);
  CUCLIP_TRY(c.st);
  if (resample == 3) p->interpolation = Interpolation::Bicubic;
  else if (resample == 2) p->interpolation = Interpolation::Bilinear;
  else if (resample == 0) p->interpolation = Interpolation::Nearest;
  else return Err(CUCLIP_ERR_INVALID_MODEL, path + ": resample " + std::to_string(resample) + " is not supported (0, 2 or 3)");
  for (const char* key : {"image_mean", "image_std"}) {
    if (!j.contains(key)) continue;
    if (!j[key].is_array() || j[key].size() != 3) return Err(CUCLIP_ERR_INVALID_MODEL, path + ": '" + key + "' must be 3 numbers");
    const bool is_std = std::string(key) == "image_std";
    for (int i = 0; i < 3; ++i) {
      if (!j[key][i].is_number()) return Err(CUCLIP_ERR_INVALID_MODEL, path + ": '" + key + "' must be 3 numbers");
      CUCLIP_TRY(normalization_value(j[key][i], is_std, path + ": '" + key + "'", &(is_std ? p->std : p->mean)[i]));
    }
  }
  return Status::Ok();
}

Status convert_transformers(const std::string& dir, const ConvertOptions& opts, ModelWriter& w, Checkpoint& ck) {
  const std::string cfg_path = path_join(dir, "config.json");
  json j;
  CUCLIP_TRY(read_json(cfg_path, &j));
  const std::string mt = j.contains("model_type") && j["model_type"].is_string() ? j["model_type"].get<std::string>() : std::string();
  if (mt != "clip") return Err(CUCLIP_ERR_INVALID_MODEL, cfg_path + ": model_type '" + mt + "' is not 'clip' (only CLIPModel checkpoints are supported)");
  const json tj = j.value("text_config", json::object()), vj = j.value("vision_config", json::object());
  if (!tj.is_object() || !vj.is_object()) return Err(CUCLIP_ERR_INVALID_MODEL, cfg_path + ": text_config and vision_config must be objects");
  ModelConfig& c = w.config;
  // Missing fields take transformers' CLIPTextConfig / CLIPVisionConfig defaults, as the library does.
  Cfg top{j, cfg_path, {}};
  c.embed_dim = top.get_int("projection_dim", 512);
  CUCLIP_TRY(top.st);
  Cfg t{tj, cfg_path + ":text_config", {}};
  c.text.width = t.get_int("hidden_size", 512);
  c.text.mlp_dim = t.get_int("intermediate_size", 2048);
  c.text.layers = t.get_int("num_hidden_layers", 12, 1, 256);
  c.text.heads = t.get_int("num_attention_heads", 8, 1, 1024);
  c.text.context_length = t.get_int("max_position_embeddings", 77, 2, 4096);
  c.text.vocab_size = t.get_int("vocab_size", 49408);
  c.text.ln_eps = (float)t.get_num("layer_norm_eps", 1e-5, 1e-12, 0.1);  // the format's range
  const int eos = t.get_int("eos_token_id", 49407, 0);
  const std::string tact = t.get_str("hidden_act", "quick_gelu");
  CUCLIP_TRY(t.st);
  CUCLIP_TRY(activation_from_hf(tact, cfg_path + ":text_config", &c.text.act));
  Cfg v{vj, cfg_path + ":vision_config", {}};
  c.vision.width = v.get_int("hidden_size", 768);
  c.vision.mlp_dim = v.get_int("intermediate_size", 3072);
  c.vision.layers = v.get_int("num_hidden_layers", 12, 1, 256);
  c.vision.heads = v.get_int("num_attention_heads", 12, 1, 1024);
  c.vision.image_size = v.get_int("image_size", 224);
  c.vision.patch_size = v.get_int("patch_size", 32);
  c.vision.ln_eps = (float)v.get_num("layer_norm_eps", 1e-5, 1e-12, 0.1);
  const int channels = v.get_int("num_channels", 3);
  const std::string vact = v.get_str("hidden_act", "quick_gelu");
  CUCLIP_TRY(v.st);
  CUCLIP_TRY(activation_from_hf(vact, cfg_path + ":vision_config", &c.vision.act));
  if (channels != 3) return Err(CUCLIP_ERR_INVALID_MODEL, cfg_path + ": vision_config.num_channels must be 3");
  for (auto [tw, name] : {std::pair{&static_cast<TowerConfig&>(c.text), "text_config"}, std::pair{&static_cast<TowerConfig&>(c.vision), "vision_config"}}) {
    if (tw->width % tw->heads != 0)
      return Err(CUCLIP_ERR_INVALID_MODEL, cfg_path + ": " + name + ".hidden_size " + std::to_string(tw->width) + " is not divisible by num_attention_heads " + std::to_string(tw->heads));
    tw->head_dim = tw->width / tw->heads;
  }
  if (c.vision.patch_size > c.vision.image_size) return Err(CUCLIP_ERR_INVALID_MODEL, cfg_path + ": vision_config.patch_size is larger than image_size");
  c.vision.ln_pre = true;
  // transformers pools at argmax(ids) when eos_token_id == 2 (configs written before the fix),
  // otherwise at the first position holding eos_token_id.
  c.text.pool = eos == 2 ? TextPool::ArgmaxId : TextPool::FirstEot;
  c.text.eot_id = eos == 2 ? 0 : eos;

  // Weights.
  const std::string single = path_join(dir, "model.safetensors"), index = path_join(dir, "model.safetensors.index.json");
  if (file_exists(single)) CUCLIP_TRY(ck.add_file(single));
  else if (file_exists(index)) CUCLIP_TRY(ck.add_sharded(index));
  else return Err(CUCLIP_ERR_INVALID_MODEL, "'" + dir + "' has neither model.safetensors nor model.safetensors.index.json (pytorch_model.bin pickles are not read: convert them to safetensors first)");
  const StTensor* ls = ck.find("logit_scale");
  c.logit_scale = scalar_value(ls);
  if (!std::isfinite(c.logit_scale)) return Err(CUCLIP_ERR_INVALID_MODEL, "tensor 'logit_scale' is missing or not a finite scalar");

  std::string tokenizer_sources;
  CUCLIP_TRY(hf_tokenizer(dir, &w.tokenizer, &tokenizer_sources));
  w.tokenizer.context_length = c.text.context_length;
  CUCLIP_TRY(check_tokenizer_builds(w.tokenizer, tokenizer_sources));
  if ((int)w.tokenizer.vocab.size() != c.text.vocab_size)
    return Err(CUCLIP_ERR_INVALID_MODEL, "the tokenizer has " + std::to_string(w.tokenizer.vocab.size()) + " tokens but text_config.vocab_size is " + std::to_string(c.text.vocab_size));
  if (c.text.pool == TextPool::FirstEot && c.text.eot_id != w.tokenizer.eot_id)
    return Err(CUCLIP_ERR_INVALID_MODEL, cfg_path + ": text_config.eos_token_id " + std::to_string(eos) + " is not the tokenizer's end-of-text id " + std::to_string(w.tokenizer.eot_id));
  if (c.text.pool == TextPool::ArgmaxId) c.text.eot_id = w.tokenizer.eot_id;
  CUCLIP_TRY(hf_preprocess(dir, c.vision.image_size, &w.preprocess));

  Builder b(ck, w, opts.dtype);
  b.get("logit_scale");
  const int64_t VW = c.vision.width, TW = c.text.width, D = c.embed_dim;
  CUCLIP_TRY(b.add("vision.patch_embed.weight", {VW, 3, c.vision.patch_size, c.vision.patch_size}, {"vision_model.embeddings.patch_embedding.weight"}));
  CUCLIP_TRY(b.add("vision.class_embedding", {VW}, {"vision_model.embeddings.class_embedding"}));
  CUCLIP_TRY(b.add("vision.pos_embed", {c.vision.tokens(), VW}, {"vision_model.embeddings.position_embedding.weight"}));
  CUCLIP_TRY(b.add("vision.ln_pre.weight", {VW}, {"vision_model.pre_layrnorm.weight"}));
  CUCLIP_TRY(b.add("vision.ln_pre.bias", {VW}, {"vision_model.pre_layrnorm.bias"}));
  auto blocks = [&](const std::string& dst, const std::string& src, const TowerConfig& tw) -> Status {
    const int64_t C = tw.width, M = tw.mlp_dim;
    for (int i = 0; i < tw.layers; ++i) {
      const std::string d = dst + ".blocks." + std::to_string(i) + ".", s = src + ".encoder.layers." + std::to_string(i) + ".";
      CUCLIP_TRY(b.add(d + "ln1.weight", {C}, {s + "layer_norm1.weight"}));
      CUCLIP_TRY(b.add(d + "ln1.bias", {C}, {s + "layer_norm1.bias"}));
      CUCLIP_TRY(b.add(d + "attn.qkv.weight", {3 * C, C}, {s + "self_attn.q_proj.weight", s + "self_attn.k_proj.weight", s + "self_attn.v_proj.weight"}));
      CUCLIP_TRY(b.add(d + "attn.qkv.bias", {3 * C}, {s + "self_attn.q_proj.bias", s + "self_attn.k_proj.bias", s + "self_attn.v_proj.bias"}));
      CUCLIP_TRY(b.add(d + "attn.out.weight", {C, C}, {s + "self_attn.out_proj.weight"}));
      CUCLIP_TRY(b.add(d + "attn.out.bias", {C}, {s + "self_attn.out_proj.bias"}));
      CUCLIP_TRY(b.add(d + "ln2.weight", {C}, {s + "layer_norm2.weight"}));
      CUCLIP_TRY(b.add(d + "ln2.bias", {C}, {s + "layer_norm2.bias"}));
      CUCLIP_TRY(b.add(d + "mlp.fc1.weight", {M, C}, {s + "mlp.fc1.weight"}));
      CUCLIP_TRY(b.add(d + "mlp.fc1.bias", {M}, {s + "mlp.fc1.bias"}));
      CUCLIP_TRY(b.add(d + "mlp.fc2.weight", {C, M}, {s + "mlp.fc2.weight"}));
      CUCLIP_TRY(b.add(d + "mlp.fc2.bias", {C}, {s + "mlp.fc2.bias"}));
    }
    return Status::Ok();
  };
  CUCLIP_TRY(blocks("vision", "vision_model", c.vision));
  CUCLIP_TRY(b.add("vision.ln_post.weight", {VW}, {"vision_model.post_layernorm.weight"}));
  CUCLIP_TRY(b.add("vision.ln_post.bias", {VW}, {"vision_model.post_layernorm.bias"}));
  CUCLIP_TRY(b.add("vision.proj.weight", {D, VW}, {"visual_projection.weight"}));
  CUCLIP_TRY(b.add("text.token_embed", {c.text.vocab_size, TW}, {"text_model.embeddings.token_embedding.weight"}));
  CUCLIP_TRY(b.add("text.pos_embed", {c.text.context_length, TW}, {"text_model.embeddings.position_embedding.weight"}));
  CUCLIP_TRY(blocks("text", "text_model", c.text));
  CUCLIP_TRY(b.add("text.ln_final.weight", {TW}, {"text_model.final_layer_norm.weight"}));
  CUCLIP_TRY(b.add("text.ln_final.bias", {TW}, {"text_model.final_layer_norm.bias"}));
  CUCLIP_TRY(b.add("text.proj.weight", {D, TW}, {"text_projection.weight"}));
  return b.check_all_used([](const std::string& n) { return ends_with(n, "embeddings.position_ids"); });
}

// ---------------------------------------------------------------------------------------------
// open_clip

Status convert_open_clip(const std::string& dir, const ConvertOptions& opts, ModelWriter& w, Checkpoint& ck) {
  const std::string cfg_path = path_join(dir, "open_clip_config.json");
  json root;
  CUCLIP_TRY(read_json(cfg_path, &root));
  const json mc = root.contains("model_cfg") ? root["model_cfg"] : root;
  if (!mc.is_object()) return Err(CUCLIP_ERR_INVALID_MODEL, cfg_path + ": model_cfg must be an object");
  const json vj = mc.value("vision_cfg", json::object()), tj = mc.value("text_cfg", json::object());
  if (!vj.is_object() || !tj.is_object()) return Err(CUCLIP_ERR_INVALID_MODEL, cfg_path + ": vision_cfg and text_cfg must be objects");
  // Switches that change the architecture beyond what the format describes are refused by name.
  auto refuse_if = [&](const json& j, const std::string& where, const char* key, const json& allowed) -> Status {
    if (j.contains(key) && !j[key].is_null() && j[key] != allowed)
      return Err(CUCLIP_ERR_INVALID_MODEL, cfg_path + ": " + where + "." + key + " = " + j[key].dump() + " is not supported");
    return Status::Ok();
  };
  for (const char* k : {"timm_model_name", "hf_model_name", "hf_tokenizer_name", "ls_init_value"}) {
    CUCLIP_TRY(refuse_if(vj, "vision_cfg", k, nullptr));
    CUCLIP_TRY(refuse_if(tj, "text_cfg", k, nullptr));
  }
  CUCLIP_TRY(refuse_if(vj, "vision_cfg", "attentional_pool", false));
  CUCLIP_TRY(refuse_if(vj, "vision_cfg", "final_ln_after_pool", false));
  CUCLIP_TRY(refuse_if(vj, "vision_cfg", "pool_type", "tok"));
  CUCLIP_TRY(refuse_if(vj, "vision_cfg", "global_average_pool", false));
  CUCLIP_TRY(refuse_if(tj, "text_cfg", "proj_type", "linear"));
  CUCLIP_TRY(refuse_if(tj, "text_cfg", "proj_bias", false));
  CUCLIP_TRY(refuse_if(tj, "text_cfg", "embed_cls", false));
  CUCLIP_TRY(refuse_if(tj, "text_cfg", "no_causal_mask", false));
  CUCLIP_TRY(refuse_if(tj, "text_cfg", "final_ln_after_pool", false));
  CUCLIP_TRY(refuse_if(tj, "text_cfg", "norm_kwargs", nullptr));
  CUCLIP_TRY(refuse_if(vj, "vision_cfg", "norm_kwargs", nullptr));
  CUCLIP_TRY(refuse_if(tj, "text_cfg", "act_kwargs", nullptr));
  CUCLIP_TRY(refuse_if(tj, "text_cfg", "pad_id", 0));
  ModelConfig& c = w.config;
  Cfg m{mc, cfg_path + ":model_cfg", {}};
  c.embed_dim = m.get_int("embed_dim", 512);
  const bool quick = m.get_bool("quick_gelu", false);
  CUCLIP_TRY(m.st);
  Cfg v{vj, cfg_path + ":vision_cfg", {}};
  if (vj.contains("image_size") && vj["image_size"].is_array()) {
    if (vj["image_size"].size() != 2 || vj["image_size"][0] != vj["image_size"][1])
      return Err(CUCLIP_ERR_INVALID_MODEL, cfg_path + ": vision_cfg.image_size must be square");
    if (!int_in_range(vj["image_size"][0], 1, 4096, &c.vision.image_size)) c.vision.image_size = 0;  // refused below
  } else {
    c.vision.image_size = v.get_int("image_size", 224);
  }
  c.vision.patch_size = v.get_int("patch_size", 16);
  c.vision.width = v.get_int("width", 768);
  c.vision.layers = v.get_int("layers", 12, 1, 256);
  const int head_width = v.get_int("head_width", 64);
  const double vmlp = v.get_num("mlp_ratio", 4.0);
  c.vision.ln_pre = !v.get_bool("no_ln_pre", false);
  CUCLIP_TRY(v.st);
  if (c.vision.image_size < 1 || c.vision.image_size > 4096) return Err(CUCLIP_ERR_INVALID_MODEL, cfg_path + ": vision_cfg.image_size is out of range");
  if (c.vision.width % head_width != 0) return Err(CUCLIP_ERR_INVALID_MODEL, cfg_path + ": vision_cfg.width is not divisible by head_width");
  c.vision.heads = c.vision.width / head_width;
  c.vision.head_dim = head_width;
  CUCLIP_TRY(mlp_width(c.vision.width, vmlp, cfg_path + ": vision_cfg", &c.vision.mlp_dim));
  Cfg t{tj, cfg_path + ":text_cfg", {}};
  c.text.context_length = t.get_int("context_length", 77, 2, 4096);
  c.text.vocab_size = t.get_int("vocab_size", 49408);
  c.text.width = t.get_int("width", 512);
  c.text.heads = t.get_int("heads", 8, 1, 1024);
  c.text.layers = t.get_int("layers", 12, 1, 256);
  const double tmlp = t.get_num("mlp_ratio", 4.0);
  const std::string pool = t.get_str("pool_type", "argmax");
  CUCLIP_TRY(t.st);
  if (c.text.width % c.text.heads != 0) return Err(CUCLIP_ERR_INVALID_MODEL, cfg_path + ": text_cfg.width is not divisible by heads");
  c.text.head_dim = c.text.width / c.text.heads;
  CUCLIP_TRY(mlp_width(c.text.width, tmlp, cfg_path + ": text_cfg", &c.text.mlp_dim));
  if (pool == "argmax") c.text.pool = TextPool::ArgmaxId;
  else if (pool == "eos") c.text.pool = TextPool::FirstEot;
  else return Err(CUCLIP_ERR_INVALID_MODEL, cfg_path + ": text_cfg.pool_type '" + pool + "' is not supported (argmax or eos)");
  c.vision.act = c.text.act = quick ? Activation::QuickGelu : Activation::GeluErf;
  c.vision.ln_eps = c.text.ln_eps = 1e-5f;
  if (c.vision.patch_size > c.vision.image_size) return Err(CUCLIP_ERR_INVALID_MODEL, cfg_path + ": vision_cfg.patch_size is larger than image_size");
  if (c.text.vocab_size != 49408) return Err(CUCLIP_ERR_INVALID_MODEL, cfg_path + ": text_cfg.vocab_size " + std::to_string(c.text.vocab_size) + " does not match the standard CLIP tokenizer (49408)");

  const std::string bpe_path = find_bundled_bpe(opts.bundled_bpe);
  CUCLIP_TRY(clip_bpe_tokenizer(bpe_path, &w.tokenizer));
  w.tokenizer.context_length = c.text.context_length;
  CUCLIP_TRY(check_tokenizer_builds(w.tokenizer, "'" + bpe_path + "'"));
  c.text.eot_id = w.tokenizer.eot_id;

  // Preprocessing: open_clip's defaults, overridden by preprocess_cfg.
  PreprocessConfig& p = w.preprocess;
  p.size = c.vision.image_size;
  p.order = ConvertOrder::ResizeCropThenRgb;
  p.crop_rounding = CropRounding::Round;
  const json pc = root.value("preprocess_cfg", json::object());
  if (!pc.is_object()) return Err(CUCLIP_ERR_INVALID_MODEL, cfg_path + ": preprocess_cfg must be an object");
  Cfg pr{pc, cfg_path + ":preprocess_cfg", {}};
  const std::string interp = pr.get_str("interpolation", "bicubic"), rm = pr.get_str("resize_mode", "shortest");
  p.fill = pr.get_int("fill_color", 0, 0, 255);
  CUCLIP_TRY(pr.st);
  if (pc.contains("size")) {
    const json& s = pc["size"];
    const json* n = s.is_array() && s.size() == 2 && s[0] == s[1] ? &s[0] : &s;
    int sz = -1;
    if (!int_in_range(*n, 1, 4096, &sz) || sz != c.vision.image_size) return Err(CUCLIP_ERR_INVALID_MODEL, cfg_path + ": preprocess_cfg.size " + s.dump() + " differs from vision_cfg.image_size");
  }
  if (interp == "bicubic") p.interpolation = Interpolation::Bicubic;
  else if (interp == "bilinear") p.interpolation = Interpolation::Bilinear;
  else return Err(CUCLIP_ERR_INVALID_MODEL, cfg_path + ": preprocess_cfg.interpolation '" + interp + "' is not supported (bicubic or bilinear)");
  if (rm == "shortest") p.resize_mode = ResizeMode::Shortest;
  else if (rm == "squash") p.resize_mode = ResizeMode::Squash;
  else if (rm == "longest") p.resize_mode = ResizeMode::Longest;
  else return Err(CUCLIP_ERR_INVALID_MODEL, cfg_path + ": preprocess_cfg.resize_mode '" + rm + "' is not supported");
  for (const char* key : {"mean", "std"}) {
    if (!pc.contains(key)) continue;
    const json& a = pc[key];
    const bool is_std = std::string(key) == "std";
    const std::string what = cfg_path + ": preprocess_cfg." + key;
    if (a.is_number()) {
      for (int i = 0; i < 3; ++i) CUCLIP_TRY(normalization_value(a, is_std, what, &(is_std ? p.std : p.mean)[i]));
      continue;
    }
    if (!a.is_array() || a.size() != 3) return Err(CUCLIP_ERR_INVALID_MODEL, what + " must be 3 numbers");
    for (int i = 0; i < 3; ++i) {
      if (!a[i].is_number()) return Err(CUCLIP_ERR_INVALID_MODEL, what + " must be 3 numbers");
      CUCLIP_TRY(normalization_value(a[i], is_std, what, &(is_std ? p.std : p.mean)[i]));
    }
  }

  const std::string weights = path_join(dir, "open_clip_model.safetensors");
  if (!file_exists(weights)) return Err(CUCLIP_ERR_INVALID_MODEL, "'" + weights + "' is missing (open_clip_pytorch_model.bin pickles are not read)");
  CUCLIP_TRY(ck.add_file(weights));
  c.logit_scale = scalar_value(ck.find("logit_scale"));
  if (!std::isfinite(c.logit_scale)) return Err(CUCLIP_ERR_INVALID_MODEL, "tensor 'logit_scale' is missing or not a finite scalar");
  if (const StTensor* lb = ck.find("logit_bias")) {
    float bias = scalar_value(lb);
    if (!std::isfinite(bias)) return Err(CUCLIP_ERR_INVALID_MODEL, "tensor 'logit_bias' is not a finite scalar");
    c.logit_bias = bias;
  }

  Builder b(ck, w, opts.dtype);
  b.get("logit_scale");
  b.get("logit_bias");
  // CustomTextCLIP keeps the text tower under "text."; CLIP at the top level.
  const std::string tp = ck.find("text.token_embedding.weight") ? "text." : "";
  const int64_t VW = c.vision.width, TW = c.text.width, D = c.embed_dim;
  CUCLIP_TRY(b.add("vision.patch_embed.weight", {VW, 3, c.vision.patch_size, c.vision.patch_size}, {"visual.conv1.weight"}));
  CUCLIP_TRY(b.add("vision.class_embedding", {VW}, {"visual.class_embedding"}));
  CUCLIP_TRY(b.add("vision.pos_embed", {c.vision.tokens(), VW}, {"visual.positional_embedding"}));
  if (c.vision.ln_pre) {
    CUCLIP_TRY(b.add("vision.ln_pre.weight", {VW}, {"visual.ln_pre.weight"}));
    CUCLIP_TRY(b.add("vision.ln_pre.bias", {VW}, {"visual.ln_pre.bias"}));
  }
  auto blocks = [&](const std::string& dst, const std::string& src, const TowerConfig& tw) -> Status {
    const int64_t C = tw.width, M = tw.mlp_dim;
    for (int i = 0; i < tw.layers; ++i) {
      const std::string d = dst + ".blocks." + std::to_string(i) + ".", s = src + "transformer.resblocks." + std::to_string(i) + ".";
      CUCLIP_TRY(b.add(d + "ln1.weight", {C}, {s + "ln_1.weight"}));
      CUCLIP_TRY(b.add(d + "ln1.bias", {C}, {s + "ln_1.bias"}));
      CUCLIP_TRY(b.add(d + "attn.qkv.weight", {3 * C, C}, {s + "attn.in_proj_weight"}));
      CUCLIP_TRY(b.add(d + "attn.qkv.bias", {3 * C}, {s + "attn.in_proj_bias"}));
      CUCLIP_TRY(b.add(d + "attn.out.weight", {C, C}, {s + "attn.out_proj.weight"}));
      CUCLIP_TRY(b.add(d + "attn.out.bias", {C}, {s + "attn.out_proj.bias"}));
      CUCLIP_TRY(b.add(d + "ln2.weight", {C}, {s + "ln_2.weight"}));
      CUCLIP_TRY(b.add(d + "ln2.bias", {C}, {s + "ln_2.bias"}));
      CUCLIP_TRY(b.add(d + "mlp.fc1.weight", {M, C}, {s + "mlp.c_fc.weight"}));
      CUCLIP_TRY(b.add(d + "mlp.fc1.bias", {M}, {s + "mlp.c_fc.bias"}));
      CUCLIP_TRY(b.add(d + "mlp.fc2.weight", {C, M}, {s + "mlp.c_proj.weight"}));
      CUCLIP_TRY(b.add(d + "mlp.fc2.bias", {C}, {s + "mlp.c_proj.bias"}));
    }
    return Status::Ok();
  };
  CUCLIP_TRY(blocks("vision", "visual.", c.vision));
  CUCLIP_TRY(b.add("vision.ln_post.weight", {VW}, {"visual.ln_post.weight"}));
  CUCLIP_TRY(b.add("vision.ln_post.bias", {VW}, {"visual.ln_post.bias"}));
  CUCLIP_TRY(b.add("vision.proj.weight", {D, VW}, {"visual.proj"}, /*transpose=*/true));
  CUCLIP_TRY(b.add("text.token_embed", {c.text.vocab_size, TW}, {tp + "token_embedding.weight"}));
  CUCLIP_TRY(b.add("text.pos_embed", {c.text.context_length, TW}, {tp + "positional_embedding"}));
  CUCLIP_TRY(blocks("text", tp, c.text));
  CUCLIP_TRY(b.add("text.ln_final.weight", {TW}, {tp + "ln_final.weight"}));
  CUCLIP_TRY(b.add("text.ln_final.bias", {TW}, {tp + "ln_final.bias"}));
  CUCLIP_TRY(b.add("text.proj.weight", {D, TW}, {tp + "text_projection"}, /*transpose=*/true));
  return b.check_all_used([](const std::string& n) { return ends_with(n, "attn_mask"); });
}

}  // namespace

Status detect_layout(const std::string& dir, SourceLayout* out) {
  if (!is_directory(dir)) return Err(CUCLIP_ERR_IO, "'" + dir + "' is not a directory");
  if (file_exists(path_join(dir, "open_clip_config.json"))) { *out = SourceLayout::OpenClip; return Status::Ok(); }
  if (file_exists(path_join(dir, "config.json"))) { *out = SourceLayout::Transformers; return Status::Ok(); }
  return Err(CUCLIP_ERR_INVALID_MODEL, "'" + dir + "' holds neither config.json (transformers) nor open_clip_config.json (open_clip)");
}

Status convert_directory(const std::string& src_dir, const std::string& out_path, const ConvertOptions& opts, std::string* summary) {
  SourceLayout layout;
  CUCLIP_TRY(detect_layout(src_dir, &layout));
  ModelWriter w;
  w.file_dtype = opts.dtype;
  Checkpoint ck;
  if (layout == SourceLayout::Transformers) CUCLIP_TRY(convert_transformers(src_dir, opts, w, ck));
  else CUCLIP_TRY(convert_open_clip(src_dir, opts, w, ck));
  switch (opts.templates) {
    case TemplatesChoice::OpenAiImageNet: w.templates = openai_imagenet_templates(); break;
    case TemplatesChoice::None: w.templates = {"{}"}; break;
    case TemplatesChoice::File: {
      std::string text;
      CUCLIP_TRY(read_text_file(opts.templates_file, 16ull << 20, &text));
      CUCLIP_TRY(parse_templates(text, opts.templates_file, &w.templates));
      break;
    }
  }
  w.source = json{{"layout", layout == SourceLayout::Transformers ? "transformers" : "open_clip"},
                  {"converter", "cuclip-convert " CUCLIP_VERSION_STRING}};
  CUCLIP_TRY(w.write(out_path));
  const ModelConfig& c = w.config;
  *summary = std::string(layout == SourceLayout::Transformers ? "transformers" : "open_clip") + " checkpoint -> " + out_path + " (" +
             dtype_name(opts.dtype) + "; vision " + std::to_string(c.vision.width) + "x" + std::to_string(c.vision.layers) + " p" +
             std::to_string(c.vision.patch_size) + "@" + std::to_string(c.vision.image_size) + ", text " + std::to_string(c.text.width) +
             "x" + std::to_string(c.text.layers) + ", embed " + std::to_string(c.embed_dim) + ")";
  return Status::Ok();
}

}  // namespace cuclip::convert
