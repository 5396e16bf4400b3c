// The converter half of the adversarial corpus: a tiny but complete transformers CLIP checkpoint
// (widths 4, one layer, the smallest vocab the tokenizer accepts: the 512 byte symbols, one merged
// token and the two specials; ~10 KB) broken in one way per directory, and tiny
// open_clip configs. The converter checks in a fixed order (config, weights, tokenizer files,
// preprocessing, tensor by tensor), so each directory holds only the files up to the one that is
// broken: what it must report is that file's problem.
#include <cmath>
#include <cstring>
#include <functional>
#include <map>

#include "bad_corpus.hpp"
#include "base/half.hpp"

namespace cuclip_security {

using nlohmann::json;

namespace {

// --- a tiny transformers checkpoint -----------------------------------------------------------

constexpr int kW = 4, kMlp = 8, kVocab = 516, kCtx = 4, kEmbed = 2, kImage = 8, kPatch = 4;

json hf_config() {
  return json{{"model_type", "clip"},
              {"projection_dim", kEmbed},
              {"logit_scale_init_value", 2.6592},
              {"text_config",
               {{"hidden_size", kW}, {"intermediate_size", kMlp}, {"num_hidden_layers", 1}, {"num_attention_heads", 2},
                {"max_position_embeddings", kCtx}, {"vocab_size", kVocab}, {"layer_norm_eps", 1e-5}, {"eos_token_id", kVocab - 1},
                {"hidden_act", "quick_gelu"}}},
              {"vision_config",
               {{"hidden_size", kW}, {"intermediate_size", kMlp}, {"num_hidden_layers", 1}, {"num_attention_heads", 2},
                {"image_size", kImage}, {"patch_size", kPatch}, {"num_channels", 3}, {"layer_norm_eps", 1e-5},
                {"hidden_act", "gelu"}}}};
}

json hf_vocab() {
  json v = json::object();
  int id = 0;
  for (const std::string& s : clip_byte_symbols()) v[s] = id++;
  for (const std::string& s : clip_byte_symbols()) v[s + "</w>"] = id++;
  for (const char* s : {"ab", "ab</w>", "<|startoftext|>", "<|endoftext|>"}) v[s] = id++;
  return v;
}

const char* kMerges = "#version: 0.2\na b\na b</w>\n";

json hf_preprocessor() {
  return json{{"crop_size", {{"height", kImage}, {"width", kImage}}},
              {"size", {{"shortest_edge", kImage}}},
              {"do_resize", true},
              {"do_center_crop", true},
              {"do_rescale", true},
              {"do_normalize", true},
              {"rescale_factor", 1.0 / 255},
              {"resample", 3},
              {"image_mean", {0.48145466, 0.4578275, 0.40821073}},
              {"image_std", {0.26862954, 0.26130258, 0.27577711}}};
}

struct StTensor {
  std::string dtype = "F32";
  std::vector<int64_t> shape;
  std::string bytes;
};
using StMap = std::map<std::string, StTensor>;

// Deterministic small values (an LCG, not std:: distributions, whose output may vary by library).
std::string values(int64_t n, uint32_t seed, const std::string& dtype) {
  std::string out;
  uint32_t x = seed * 2654435761u + 1;
  for (int64_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    const float v = ((float)(x >> 8) / 16777216.0f - 0.5f) * 0.2f;
    if (dtype == "F16") {
      const uint16_t h = cuclip::f32_to_f16(v);
      out.append(reinterpret_cast<const char*>(&h), 2);
    } else {
      out.append(reinterpret_cast<const char*>(&v), 4);
    }
  }
  return out;
}

StMap hf_tensors() {
  StMap t;
  uint32_t seed = 1;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, const std::string& dtype = "F16") {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    t[name] = {dtype, shape, values(n, seed++, dtype)};
  };
  auto block = [&](const std::string& p) {
    for (const char* ln : {"layer_norm1", "layer_norm2"}) {
      add(p + ln + ".weight", {kW});
      add(p + ln + ".bias", {kW});
    }
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      add(p + "self_attn." + proj + ".weight", {kW, kW});
      add(p + "self_attn." + proj + ".bias", {kW});
    }
    add(p + "mlp.fc1.weight", {kMlp, kW});
    add(p + "mlp.fc1.bias", {kMlp});
    add(p + "mlp.fc2.weight", {kW, kMlp});
    add(p + "mlp.fc2.bias", {kW});
  };
  const int64_t tokens = (kImage / kPatch) * (kImage / kPatch) + 1;
  add("vision_model.embeddings.patch_embedding.weight", {kW, 3, kPatch, kPatch});
  add("vision_model.embeddings.class_embedding", {kW});
  add("vision_model.embeddings.position_embedding.weight", {tokens, kW});
  add("vision_model.pre_layrnorm.weight", {kW});
  add("vision_model.pre_layrnorm.bias", {kW});
  block("vision_model.encoder.layers.0.");
  add("vision_model.post_layernorm.weight", {kW});
  add("vision_model.post_layernorm.bias", {kW});
  add("visual_projection.weight", {kEmbed, kW});
  add("text_model.embeddings.token_embedding.weight", {kVocab, kW});
  add("text_model.embeddings.position_embedding.weight", {kCtx, kW});
  block("text_model.encoder.layers.0.");
  add("text_model.final_layer_norm.weight", {kW});
  add("text_model.final_layer_norm.bias", {kW});
  add("text_projection.weight", {kEmbed, kW});
  add("logit_scale", {}, "F32");
  std::string position_ids;  // an old buffer (int64 0..T-1) that the converter ignores
  for (int64_t i = 0; i < kCtx; ++i) position_ids.append(reinterpret_cast<const char*>(&i), 8);
  t["text_model.embeddings.position_ids"] = {"I64", {1, kCtx}, position_ids};
  return t;
}

std::string le64(uint64_t v) { return std::string(reinterpret_cast<const char*>(&v), 8); }

// A safetensors file: u64 header length, JSON header, then the tensors back to back in name order.
// `edit` may change the header after the offsets are assigned.
std::string safetensors(const StMap& t, const std::function<void(json&)>& edit = nullptr) {
  json h = json::object();
  std::string data;
  for (const auto& [name, e] : t) {
    h[name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {data.size(), data.size() + e.bytes.size()}}};
    data += e.bytes;
  }
  h["__metadata__"] = {{"format", "pt"}};
  if (edit) edit(h);
  const std::string hs = h.dump();
  return le64(hs.size()) + hs + data;
}

struct Dir {
  std::map<std::string, std::string> files;
};

// The valid checkpoint's files up to (and including) the stage a case breaks.
enum class Upto { Config, Weights, Tokenizer, All };
Dir hf_dir(Upto upto) {
  Dir d;
  d.files["config.json"] = hf_config().dump();
  if (upto == Upto::Config) return d;
  d.files["model.safetensors"] = safetensors(hf_tensors());
  if (upto == Upto::Weights) return d;
  d.files["vocab.json"] = hf_vocab().dump();
  d.files["merges.txt"] = kMerges;
  if (upto == Upto::Tokenizer) return d;
  d.files["preprocessor_config.json"] = hf_preprocessor().dump();
  return d;
}

json oc_config() {
  return json{{"model_cfg",
               {{"embed_dim", kEmbed},
                {"quick_gelu", true},
                {"vision_cfg", {{"image_size", kImage}, {"patch_size", kPatch}, {"width", kW}, {"head_width", 2}, {"layers", 1}, {"mlp_ratio", 2.0}}},
                {"text_cfg", {{"context_length", kCtx}, {"vocab_size", 49408}, {"width", kW}, {"heads", 2}, {"layers", 1}}}}},
              {"preprocess_cfg", {{"interpolation", "bicubic"}, {"resize_mode", "shortest"}}}};
}

}  // namespace

void add_converter_cases(Corpus* c) {
  auto add = [&](const std::string& name, const Dir& d, const std::string& status, const std::string& message, const std::string& rule) {
    const std::string dir = "converter/" + name + "/";
    for (const auto& [f, bytes] : d.files) c->files.push_back({dir + f, bytes});
    c->manifest.push_back({dir, "checkpoint", "load", status, message, rule});
  };
  auto with = [](Dir d, const std::string& file, const std::string& bytes) {
    d.files[file] = bytes;
    return d;
  };
  auto config_edit = [&](const std::function<void(json&)>& e) {
    json j = hf_config();
    e(j);
    return with(hf_dir(Upto::Config), "config.json", j.dump());
  };
  auto weights = [&](const std::string& bytes) { return with(hf_dir(Upto::Weights), "model.safetensors", bytes); };
  auto st_edit = [&](const std::function<void(json&)>& e) { return weights(safetensors(hf_tensors(), e)); };
  auto tensors_edit = [&](const std::function<void(StMap&)>& e, const std::function<void(json&)>& header_edit = nullptr) {
    StMap t = hf_tensors();
    e(t);
    return with(hf_dir(Upto::All), "model.safetensors", safetensors(t, header_edit));
  };
  const std::string ok_st = safetensors(hf_tensors());
  const std::string E = "CUCLIP_ERR_INVALID_MODEL";

  add("valid_hf", hf_dir(Upto::All), "CUCLIP_OK", "", "control: the unbroken base of every transformers case");
  add("empty_dir", Dir{{{".keep", ""}}}, E, "neither config.json", "layout detected");

  // config.json
  add("config_invalid_json", with(hf_dir(Upto::Config), "config.json", "{\"model_type\": \"clip\", "), E, "is not valid JSON", "config.json is JSON");
  add("config_not_object", with(hf_dir(Upto::Config), "config.json", "[1, 2, 3]"), E, "is not a JSON object", "config.json is an object");
  add("config_model_type", config_edit([](json& j) { j["model_type"] = "siglip"; }), E, "model_type 'siglip'", "model_type is clip");
  add("config_text_config_not_object", config_edit([](json& j) { j["text_config"] = 7; }), E, "must be objects", "sub-configs are objects");
  add("config_field_wrong_type", config_edit([](json& j) { j["text_config"]["hidden_size"] = "four"; }), E,
      "text_config.hidden_size: must be an integer", "field types");
  add("config_layers_absurd", config_edit([](json& j) { j["vision_config"]["num_hidden_layers"] = 100000; }), E,
      "vision_config.num_hidden_layers: 100000 is out of range", "layer count range");
  add("config_width_negative", config_edit([](json& j) { j["text_config"]["hidden_size"] = -4; }), E, "text_config.hidden_size: -4 is out of range",
      "width range (negative)");
  add("config_width_huge", config_edit([](json& j) { j["text_config"]["hidden_size"] = 1LL << 40; }), E, "text_config.hidden_size",
      "width range (2^40)");
  add("config_heads_not_dividing", config_edit([](json& j) { j["vision_config"]["num_attention_heads"] = 3; }), E,
      "is not divisible by num_attention_heads", "heads divide the width");
  add("config_patch_larger_than_image", config_edit([](json& j) { j["vision_config"]["patch_size"] = 16; }), E, "patch_size is larger than image_size",
      "patch_size <= image_size");
  add("config_activation", config_edit([](json& j) { j["text_config"]["hidden_act"] = "swish"; }), E, "hidden_act 'swish' is not supported",
      "activation supported");
  add("config_channels", config_edit([](json& j) { j["vision_config"]["num_channels"] = 4; }), E, "num_channels must be 3", "3 channels");
  add("config_ln_eps_not_finite", config_edit([](json& j) { j["text_config"]["layer_norm_eps"] = "inf"; }), E,
      "layer_norm_eps: must be a finite number", "eps is a finite number");
  // Missing fields take transformers' defaults (ViT-B/32 sizes), which then disagree with the weights.
  add("config_field_missing", with(hf_dir(Upto::All), "config.json", [] { json j = hf_config(); j["text_config"].erase("intermediate_size"); return j.dump(); }()),
      E, "'text.blocks.0.mlp.fc1.weight' have 8 rows; the config requires 2048", "a missing field takes the library default, which must match the weights");
  add("config_eos_not_tokenizer_eot", with(hf_dir(Upto::All), "config.json", [] { json j = hf_config(); j["text_config"]["eos_token_id"] = 5; return j.dump(); }()),
      E, "eos_token_id 5 is not the tokenizer's end-of-text id 515", "eos_token_id = tokenizer EOT");
  add("config_vocab_size_disagrees", with(hf_dir(Upto::All), "config.json", [] { json j = hf_config(); j["text_config"]["vocab_size"] = 11; return j.dump(); }()),
      E, "text_config.vocab_size is 11", "vocab_size = tokenizer size");
  add("pickle_only", with(hf_dir(Upto::Config), "pytorch_model.bin", std::string("\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94.", 14)), E,
      "pickles are not read", "pickled checkpoints are refused (never unpickled)");

  // model.safetensors
  add("st_too_short", weights("\x10\x00\x00"), E, "too short to be safetensors", "at least the 8-byte length");
  add("st_huge_header_length", weights(le64(1ull << 62) + "{}"), "CUCLIP_ERR_LIMIT_EXCEEDED", "exceeds the limit", "header length cap");
  add("st_header_past_end", weights(le64(4096) + "{}"), E, "runs past the end of the file", "header inside the file");
  add("st_header_invalid_json", weights(le64(12) + "{\"a\": [1, 2" + std::string(16, '\0')), E, "is not a JSON object", "header is JSON");
  add("st_header_not_object", weights(le64(2) + "[]"), E, "is not a JSON object", "header is an object");
  add("st_truncated_data", weights(ok_st.substr(0, ok_st.size() - 40)), E, "run past the data buffer", "data not truncated");
  add("st_trailing_data", weights(ok_st + std::string(12, '\0')), E, "trailing bytes not covered by any tensor", "no trailing bytes");
  add("st_offsets_out_of_file", st_edit([](json& h) { h["logit_scale"]["data_offsets"] = {1ull << 40, (1ull << 40) + 4}; }), E,
      "run past the data buffer", "offsets inside the file");
  add("st_offsets_overlap", st_edit([](json& h) {
        // Two same-size tensors claim the same bytes (the first one's, so the overlap is met before
        // the hole the second one leaves).
        h["text_model.final_layer_norm.weight"]["data_offsets"] = h["text_model.final_layer_norm.bias"]["data_offsets"];
      }),
      E, "overlaps the previous tensor", "no overlap");
  add("st_offsets_hole", st_edit([](json& h) { h.erase("logit_scale"); }), E, "hole in the data buffer", "no hole");
  add("st_offsets_reversed", st_edit([](json& h) { h["logit_scale"]["data_offsets"] = {h["logit_scale"]["data_offsets"][1], h["logit_scale"]["data_offsets"][0]}; }),
      E, "end before they begin", "begin <= end");
  add("st_offsets_not_integers", st_edit([](json& h) { h["logit_scale"]["data_offsets"] = {"0", "4"}; }), E, "data_offsets must be [begin, end]",
      "offsets are integers");
  add("st_bytes_disagree_with_shape", st_edit([](json& h) { h["logit_scale"]["shape"] = {2}; }), E, "disagree with shape and dtype",
      "byte size = shape x dtype");
  add("st_unknown_dtype", st_edit([](json& h) { h["logit_scale"]["dtype"] = "Q4_K"; }), E, "unknown dtype 'Q4_K'", "dtype known");
  add("st_negative_shape", st_edit([](json& h) { h["logit_scale"]["shape"] = {-1}; }), E, "shape dims must be non-negative integers",
      "dims non-negative");
  add("st_overflowing_shape", st_edit([](json& h) { h["logit_scale"]["shape"] = {1ull << 40, 1ull << 40, 1ull << 40}; }), E,
      "shape product overflows", "shape product without overflow");
  add("st_rank_9", st_edit([](json& h) { h["logit_scale"]["shape"] = {1, 1, 1, 1, 1, 1, 1, 1, 1}; }), E, "at most 8 dims", "rank cap");
  add("st_metadata_not_strings", st_edit([](json& h) { h["__metadata__"] = {{"format", 1}}; }), E, "__metadata__ must be an object of strings",
      "metadata is strings");
  add("st_entry_not_object", st_edit([](json& h) { h["logit_scale"] = "F32"; }), E, "entry is not an object", "entries are objects");

  // Sharded checkpoints (model.safetensors.index.json).
  {
    Dir d = hf_dir(Upto::Config);
    d.files["model-00001-of-00001.safetensors"] = ok_st;
    json idx = {{"metadata", json::object()}, {"weight_map", json::object()}};
    for (const auto& [name, t] : hf_tensors()) idx["weight_map"][name] = "model-00001-of-00001.safetensors";
    json escape = idx;
    escape["weight_map"]["logit_scale"] = "../../../etc/passwd";
    add("index_path_escape", with(d, "model.safetensors.index.json", escape.dump()), E, "is not a plain file name", "shard names are plain file names");
    json missing = idx;
    missing["weight_map"]["text_model.extra.weight"] = "model-00001-of-00001.safetensors";
    add("index_lists_missing_tensor", with(d, "model.safetensors.index.json", missing.dump()), E, "listed in the index is missing",
        "every indexed tensor exists");
    add("index_not_object", with(d, "model.safetensors.index.json", "{\"weight_map\": [1]}"), E, "needs a weight_map object", "index has a weight_map");
  }

  // Tokenizer files.
  add("tokenizer_missing", hf_dir(Upto::Weights), E, "has no tokenizer files", "tokenizer files present");
  add("vocab_invalid_json", with(hf_dir(Upto::Tokenizer), "vocab.json", "{\"a\": 0,"), E, "vocab.json is not valid JSON", "vocab.json is JSON");
  add("vocab_ids_not_dense", with(hf_dir(Upto::Tokenizer), "vocab.json", [] { json v = hf_vocab(); v["c"] = 1000; return v.dump(); }()), E,
      "vocab ids are not 0..n-1", "vocab ids are 0..n-1");
  add("vocab_without_eot", with(hf_dir(Upto::Tokenizer), "vocab.json", [] { json v = hf_vocab(); v.erase("<|endoftext|>"); v["zz"] = kVocab - 1; return v.dump(); }()),
      E, "lacks", "vocab has the special tokens");
  add("merges_malformed", with(hf_dir(Upto::Tokenizer), "merges.txt", "#version: 0.2\na b c\n"), E, "is not \"left right\"", "merges are pairs");
  add("merges_not_in_vocab", with(hf_dir(Upto::Tokenizer), "merges.txt", "#version: 0.2\na b\na b</w>\nx y\n"), E,
      "merges.txt': the tokenizer cannot be built", "the tokenizer builds (every merge result is in the vocab)");
  {
    Dir d = hf_dir(Upto::Weights);
    d.files["tokenizer.json"] = json{{"model", {{"type", "WordPiece"}, {"vocab", hf_vocab()}}}}.dump();
    add("tokenizer_json_not_bpe", d, "CUCLIP_ERR_UNSUPPORTED", "model.type is not \"BPE\"", "tokenizer.json is BPE");
  }

  // preprocessor_config.json
  add("preprocessor_missing", hf_dir(Upto::Tokenizer), E, "preprocessor_config.json' is missing", "preprocessing known");
  auto pre_edit = [&](const std::function<void(json&)>& e) {
    json j = hf_preprocessor();
    e(j);
    return with(hf_dir(Upto::All), "preprocessor_config.json", j.dump());
  };
  add("preprocessor_crop_differs", pre_edit([](json& j) { j["crop_size"] = 16; j["size"] = 16; }), E, "crop_size 16 differs from the vision image_size 8",
      "crop = image_size");
  add("preprocessor_resample", pre_edit([](json& j) { j["resample"] = 1; }), E, "resample 1 is not supported", "resample supported");
  add("preprocessor_mean_length", pre_edit([](json& j) { j["image_mean"] = {0.5, 0.5}; }), E, "'image_mean' must be 3 numbers", "3 means");
  add("preprocessor_normalize_off", pre_edit([](json& j) { j["do_normalize"] = false; }), E, "must all be true", "the standard pipeline");
  add("preprocessor_size_absurd", pre_edit([](json& j) { j["size"] = 1000000; }), E, "'size' 1000000 is out of range", "size range");

  // Tensors against the config.
  add("tensor_missing", tensors_edit([](StMap& t) { t.erase("text_model.final_layer_norm.bias"); }), E,
      "tensor 'text_model.final_layer_norm.bias' is missing from the checkpoint", "every tensor present");
  add("tensor_unknown", tensors_edit([](StMap& t) { t["text_model.extra_head.weight"] = {"F32", {1}, values(1, 99, "F32")}; }), E,
      "tensor 'text_model.extra_head.weight' in", "no unknown tensor");
  add("tensor_wrong_shape", tensors_edit([](StMap& t) {
        auto& e = t["text_model.encoder.layers.0.mlp.fc1.weight"];
        e.shape = {kMlp, kW + 1};
        e.bytes = values(kMlp * (kW + 1), 7, e.dtype);
      }),
      E, "which does not fit 'text.blocks.0.mlp.fc1.weight'", "shapes agree with the config");
  add("tensor_int_dtype", tensors_edit([](StMap& t) {
        auto& e = t["text_model.final_layer_norm.bias"];
        e.dtype = "I16";
      }),
      E, "has dtype I16; only F32, F16 and BF16", "float weights only");
  add("logit_scale_missing", tensors_edit([](StMap& t) { t.erase("logit_scale"); }), E, "tensor 'logit_scale' is missing", "logit_scale present");
  add("tensor_nan", tensors_edit([](StMap& t) {
        const uint16_t h = 0x7e00;  // f16 NaN
        std::memcpy(t["text_model.final_layer_norm.weight"].bytes.data() + 2, &h, 2);
      }),
      E, "holds a NaN or Inf value at element 1", "weights are finite");
  add("tensor_f16_overflow", tensors_edit([](StMap& t) {
        auto& e = t["text_model.encoder.layers.0.mlp.fc2.weight"];  // a matrix: converted to f16
        e.dtype = "F32";
        e.bytes = values(kW * kMlp, 3, "F32");
        const float big = 1e6f;  // representable in f32 and bf16, not in f16 (max 65504)
        std::memcpy(e.bytes.data(), &big, 4);
      }),
      E, "overflows f16", "values fit the target dtype");

  // open_clip configs: every refusal below happens before the weights are needed.
  auto oc = [&](const std::string& name, const std::function<void(json&)>& e, const std::string& status, const std::string& message,
                const std::string& rule) {
    json j = oc_config();
    e(j);
    add(name, Dir{{{"open_clip_config.json", j.dump()}}}, status, message, rule);
  };
  add("oc_invalid_json", Dir{{{"open_clip_config.json", "{\"model_cfg\": {"}}}, E, "is not valid JSON", "open_clip_config.json is JSON");
  oc("oc_weights_missing", [](json&) {}, E, "open_clip_pytorch_model.bin pickles are not read", "safetensors weights present");
  oc("oc_timm_tower", [](json& j) { j["model_cfg"]["vision_cfg"]["timm_model_name"] = "vit_base_patch16_224"; }, E,
     "vision_cfg.timm_model_name", "no timm towers");
  oc("oc_vocab_size", [](json& j) { j["model_cfg"]["text_cfg"]["vocab_size"] = 32000; }, E, "does not match the standard CLIP tokenizer",
     "vocab is the CLIP BPE");
  oc("oc_pool_type", [](json& j) { j["model_cfg"]["text_cfg"]["pool_type"] = "mean"; }, E, "pool_type 'mean' is not supported", "pooling supported");
  oc("oc_head_width_not_dividing", [](json& j) { j["model_cfg"]["vision_cfg"]["head_width"] = 3; }, E, "width is not divisible by head_width",
     "head_width divides width");
  oc("oc_image_size_not_square", [](json& j) { j["model_cfg"]["vision_cfg"]["image_size"] = {8, 16}; }, E, "image_size must be square", "square input");
  oc("oc_image_size_absurd", [](json& j) { j["model_cfg"]["vision_cfg"]["image_size"] = 100000; }, E, "image_size is out of range", "image size range");
  oc("oc_context_length_absurd", [](json& j) { j["model_cfg"]["text_cfg"]["context_length"] = 1000000; }, E, "context_length: 1000000 is out of range",
     "context length range");
  oc("oc_interpolation", [](json& j) { j["preprocess_cfg"]["interpolation"] = "lanczos"; }, E, "interpolation 'lanczos' is not supported",
     "interpolation supported");
  oc("oc_preprocess_size_differs", [](json& j) { j["preprocess_cfg"]["size"] = 224; }, E, "preprocess_cfg.size 224 differs", "preprocess size = image_size");
  oc("oc_mlp_ratio_overflows", [](json& j) { j["model_cfg"]["vision_cfg"]["mlp_ratio"] = 1e10; }, E,
     "vision_cfg.mlp_ratio 10000000000.0 gives an MLP width outside [1, 65536]", "MLP width in range before the int conversion");
  oc("oc_mean_not_numbers", [](json& j) { j["preprocess_cfg"]["mean"] = {"a", "b", "c"}; }, E, "preprocess_cfg.mean must be 3 numbers", "3 means");
}

}  // namespace cuclip_security
