// The .cuclip half of the adversarial corpus: a valid, loadable tiny model (~20 KB) broken in
// exactly one way per rule of docs/format.md, in the validator's order.
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <stdexcept>

#include "bad_corpus.hpp"
#include "base/file.hpp"
#include "base/half.hpp"
#include "format/tiny_model.hpp"  // split / join
#include "model_file.hpp"

namespace cuclip_security {

using nlohmann::json;

namespace {

// The smallest complete architecture (widths 4, one layer per tower, one 4x4 patch): 37 tensors of
// a few bytes each, so a file is mostly the 256-byte alignment of each tensor plus the header.
cuclip::ModelConfig small_config(int vocab_size) {
  cuclip::ModelConfig c;
  c.embed_dim = 2;
  for (cuclip::TowerConfig* t : {static_cast<cuclip::TowerConfig*>(&c.vision), static_cast<cuclip::TowerConfig*>(&c.text)}) {
    t->width = 4;
    t->layers = 1;
    t->heads = 2;
    t->head_dim = 2;
    t->mlp_dim = 8;
  }
  c.vision.act = cuclip::Activation::GeluErf;
  c.vision.image_size = 4;
  c.vision.patch_size = 4;
  c.text.context_length = 4;
  c.text.vocab_size = vocab_size;
  c.text.eot_id = vocab_size - 1;
  c.logit_scale = 2.0f;
  return c;
}

// A model file of small_config. loadable: the vocab holds the 512 byte symbols the tokenizer needs
// (plus the two specials, no merges), so cuclip_model_load accepts it; otherwise a 10-token vocab
// that satisfies every rule of the format but not the tokenizer (about 5 KB smaller, which is
// what the files refused by the format rules are built from). Values: an LCG, deterministic.
std::vector<uint8_t> build_model(bool loadable) {
  cuclip::ModelWriter w;
  if (loadable) {
    for (const std::string& s : clip_byte_symbols()) w.tokenizer.vocab.push_back(s);
    for (const std::string& s : clip_byte_symbols()) w.tokenizer.vocab.push_back(s + "</w>");
    w.tokenizer.vocab.push_back("<start_of_text>");
    w.tokenizer.vocab.push_back("<end_of_text>");
  } else {
    for (int i = 0; i < 8; ++i) w.tokenizer.vocab.push_back(std::string("t").append(std::to_string(i)));
    w.tokenizer.vocab.push_back("<start_of_text>");
    w.tokenizer.vocab.push_back("<end_of_text>");
    w.tokenizer.merges = {"t 1"};
  }
  const int n = (int)w.tokenizer.vocab.size();
  w.config = small_config(n);
  w.tokenizer.sot_id = n - 2;
  w.tokenizer.eot_id = n - 1;
  w.tokenizer.pad_id = 0;
  w.tokenizer.context_length = w.config.text.context_length;
  w.preprocess.size = w.config.vision.image_size;  // the engine sizes pixel buffers by image_size
  w.file_dtype = cuclip::DType::F16;
  w.templates = {"a photo of a {}."};
  uint32_t seed = 1;
  for (const auto& spec : cuclip::expected_tensors(w.config)) {
    const cuclip::DType dt = cuclip::tensor_is_kept_f32(spec.name, spec.shape.size()) ? cuclip::DType::F32 : cuclip::DType::F16;
    const uint32_t s0 = seed++;
    w.add_tensor(spec.name, dt, spec.shape, [dt, s0](uint8_t* dst, uint64_t bytes) {
      uint32_t x = s0 * 2654435761u + 7;
      for (uint64_t i = 0; i < bytes / cuclip::dtype_size(dt); ++i) {
        x = x * 1664525u + 1013904223u;
        const float v = ((float)(x >> 8) / 16777216.0f - 0.5f) * 0.5f;
        if (dt == cuclip::DType::F32) std::memcpy(dst + 4 * i, &v, 4);
        else {
          const uint16_t h = cuclip::f32_to_f16(v);
          std::memcpy(dst + 2 * i, &h, 2);
        }
      }
      return cuclip::Status::Ok();
    });
  }
  std::string path = "/tmp/cuclip_bad_corpus_";  // (appended piecewise: GCC 12 warns falsely on literal + string&&)
  path += std::to_string(getpid()) + ".cuclip";
  cuclip::Status st = w.write(path);
  std::vector<uint8_t> bytes;
  if (st.ok()) st = cuclip::read_file(path, 1 << 26, &bytes);
  unlink(path.c_str());
  if (!st.ok()) throw std::runtime_error("bad corpus: cannot build the small model: " + st.message);
  return bytes;
}

// The base of every format case.
const std::vector<uint8_t>& valid_model() {
  static const std::vector<uint8_t> f = build_model(false);
  return f;
}
const std::vector<uint8_t>& loadable_model() {
  static const std::vector<uint8_t> f = build_model(true);
  return f;
}

std::string str(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

template <class T>
std::vector<uint8_t> poked(size_t at, T v) {
  auto f = valid_model();
  std::memcpy(f.data() + at, &v, sizeof v);
  return f;
}

std::vector<uint8_t> edited(const std::function<void(json&)>& edit) {
  cuclip_test::Parts p = cuclip_test::split(valid_model());
  edit(p.header);
  return cuclip_test::join(p);
}

json& tensor(json& h, const std::string& name) {
  for (auto& t : h["tensors"])
    if (t["name"] == name) return t;
  throw std::runtime_error("bad corpus: no tensor " + name);
}

std::string crc_hex(uint32_t c) {
  char b[9];
  std::snprintf(b, sizeof b, "%08x", c);
  return b;
}

}  // namespace

void add_model_cases(Corpus* c) {
  auto add = [&](const std::string& name, const std::vector<uint8_t>& bytes, const std::string& stage, const std::string& status,
                 const std::string& message, const std::string& rule) {
    const std::string path = "model/" + name + ".cuclip";
    c->files.push_back({path, str(bytes)});
    c->manifest.push_back({path, "model", stage, status, message, rule});
  };
  const auto& v = valid_model();
  uint64_t header_bytes, data_offset;
  std::memcpy(&header_bytes, v.data() + 16, 8);
  std::memcpy(&data_offset, v.data() + 32, 8);

  add("valid_small", loadable_model(), "load", "CUCLIP_OK", "", "control: a complete model that loads, verifies and encodes");
  add("tokenizer_lacks_byte_symbols", v, "load", "CUCLIP_ERR_INVALID_MODEL", "no symbol for byte 0",
      "the tokenizer needs all 512 byte symbols (this file passes every format rule: it is the base of the cases below)");
  // Fixed header.
  add("empty", {}, "load", "CUCLIP_ERR_INVALID_MODEL", "truncated", "truncated fixed header (0 bytes)");
  add("truncated_fixed_header", std::vector<uint8_t>(v.begin(), v.begin() + 20), "load", "CUCLIP_ERR_INVALID_MODEL", "shorter than the 48-byte fixed header",
      "truncated fixed header");
  {
    auto f = v;
    std::memcpy(f.data(), "GGUF\3\0\0\0", 8);
    add("bad_magic", f, "load", "CUCLIP_ERR_BAD_MAGIC", "bad magic", "magic");
  }
  add("version_2", poked<uint32_t>(8, 2), "load", "CUCLIP_ERR_UNSUPPORTED_VERSION", "format version 2 is not supported", "version");
  add("alignment_300", poked<uint32_t>(12, 300), "load", "CUCLIP_ERR_INVALID_MODEL", "alignment 300", "alignment is a power of two");
  add("reserved_nonzero", poked<uint32_t>(28, 7), "load", "CUCLIP_ERR_INVALID_MODEL", "reserved header field", "reserved is zero");
  add("huge_header_length", poked<uint64_t>(16, 1ull << 62), "load", "CUCLIP_ERR_LIMIT_EXCEEDED", "exceeds the limit",
      "header-length cap (2^62 bytes claimed)");
  add("header_past_end", poked<uint64_t>(16, v.size()), "load", "CUCLIP_ERR_INVALID_MODEL", "runs past the end",
      "header inside the file");
  add("data_offset_wrong", poked<uint64_t>(32, data_offset + 256), "load", "CUCLIP_ERR_INVALID_MODEL", "data offset",
      "data offset = align_up(48 + header_bytes)");
  add("truncated_data", std::vector<uint8_t>(v.begin(), v.end() - 100), "load", "CUCLIP_ERR_INVALID_MODEL", "truncated or trailing",
      "file size = data_offset + data_bytes (truncated)");
  {
    auto f = v;
    f.insert(f.end(), 64, 0);
    add("trailing_bytes", f, "load", "CUCLIP_ERR_INVALID_MODEL", "truncated or trailing", "file size (trailing data)");
  }
  add("data_bytes_overflow", poked<uint64_t>(40, UINT64_MAX - 100), "load", "CUCLIP_ERR_INVALID_MODEL", "truncated or trailing",
      "data_offset + data_bytes overflow");
  {
    auto f = v;
    f[data_offset - 1] = 1;
    add("padding_nonzero", f, "load", "CUCLIP_ERR_INVALID_MODEL", "padding", "zero padding");
  }
  {
    auto f = v;
    f[48 + header_bytes / 2] ^= 0x01;
    add("header_checksum", f, "load", "CUCLIP_ERR_CHECKSUM", "header checksum", "header checksum");
  }
  {
    auto f = v;
    std::memset(f.data() + 48, '[', header_bytes);  // deeply nested, never closed
    const uint32_t crc = cuclip::crc32_of(f.data() + 48, header_bytes);
    std::memcpy(f.data() + 24, &crc, 4);
    add("header_not_json", f, "load", "CUCLIP_ERR_INVALID_MODEL", "not valid JSON", "header is JSON (unclosed nesting)");
  }
  add("header_not_object", edited([](json& h) { h = json::array({1, 2}); }), "load", "CUCLIP_ERR_INVALID_MODEL", "not a JSON object",
      "header is a JSON object");
  add("format_field", edited([](json& h) { h["format"] = "gguf"; }), "load", "CUCLIP_ERR_INVALID_MODEL", "header.format", "format");
  add("file_dtype_unknown", edited([](json& h) { h["file_dtype"] = "q4_0"; }), "load", "CUCLIP_ERR_INVALID_MODEL", "header.file_dtype",
      "file_dtype");
  // Config.
  add("config_missing", edited([](json& h) { h.erase("config"); }), "load", "CUCLIP_ERR_INVALID_MODEL", "config: missing", "config present");
  add("config_field_missing", edited([](json& h) { h["config"]["vision"].erase("heads"); }), "load", "CUCLIP_ERR_INVALID_MODEL",
      "config.vision.heads: missing", "config fields present");
  add("config_layers_absurd", edited([](json& h) { h["config"]["text"]["layers"] = 1000000000; }), "load", "CUCLIP_ERR_INVALID_MODEL",
      "config.text.layers: must be in [1, 256]", "config ranges (absurd layer count)");
  add("config_width_huge", edited([](json& h) { h["config"]["vision"]["width"] = 9223372036854775807LL; }), "load",
      "CUCLIP_ERR_INVALID_MODEL", "config.vision.width", "config ranges (int64 max width)");
  add("config_width_not_integer", edited([](json& h) { h["config"]["text"]["width"] = 8.5; }), "load", "CUCLIP_ERR_INVALID_MODEL",
      "config.text.width: must be an integer", "config types");
  add("config_heads_times_head_dim", edited([](json& h) { h["config"]["vision"]["head_dim"] = 3; }), "load", "CUCLIP_ERR_INVALID_MODEL",
      "heads * head_dim", "heads * head_dim = width");
  add("config_patch_larger_than_image", edited([](json& h) { h["config"]["vision"]["patch_size"] = 5; }), "load",
      "CUCLIP_ERR_INVALID_MODEL", "is larger than image_size", "patch_size <= image_size");
  add("config_activation", edited([](json& h) { h["config"]["text"]["activation"] = "relu"; }), "load", "CUCLIP_ERR_INVALID_MODEL",
      "config.text.activation", "activation");
  add("config_ln_eps_nan", edited([](json& h) { h["config"]["text"]["ln_eps"] = "NaN"; }), "load", "CUCLIP_ERR_INVALID_MODEL",
      "config.text.ln_eps", "ln_eps is a finite number");
  add("config_logit_scale_absurd", edited([](json& h) { h["config"]["logit_scale"] = 1e300; }), "load", "CUCLIP_ERR_INVALID_MODEL",
      "config.logit_scale", "logit_scale range");
  add("config_eot_outside_vocab", edited([](json& h) { h["config"]["text"]["eot_id"] = 10; }), "load", "CUCLIP_ERR_INVALID_MODEL",
      "eot_id", "eot_id < vocab_size");
  // Preprocess, tokenizer, templates.
  add("preprocess_std_zero", edited([](json& h) { h["preprocess"]["std"] = {0.5, 0.0, 0.5}; }), "load", "CUCLIP_ERR_INVALID_MODEL",
      "preprocess.std", "std > 0");
  add("preprocess_size_differs", edited([](json& h) { h["preprocess"]["size"] = 224; }), "load", "CUCLIP_ERR_INVALID_MODEL",
      "preprocess.size 224 differs from config.vision.image_size 4", "preprocess.size = config.vision.image_size");
  add("preprocess_resize_mode", edited([](json& h) { h["preprocess"]["resize_mode"] = "fit"; }), "load", "CUCLIP_ERR_INVALID_MODEL",
      "preprocess.resize_mode", "resize_mode");
  add("tokenizer_type", edited([](json& h) { h["tokenizer"]["type"] = "sentencepiece"; }), "load", "CUCLIP_ERR_INVALID_MODEL",
      "tokenizer.type", "tokenizer type");
  add("tokenizer_sot_outside_vocab", edited([](json& h) { h["tokenizer"]["sot_id"] = 10; }), "load", "CUCLIP_ERR_INVALID_MODEL", "sot_id",
      "special ids < vocab entries");
  add("vocab_size_disagrees", edited([](json& h) {
        h["tokenizer"]["vocab"].erase(9);
        h["tokenizer"]["sot_id"] = 0;
        h["tokenizer"]["eot_id"] = 1;
      }),
      "load", "CUCLIP_ERR_INVALID_MODEL", "vocab_size", "vocab length = config.text.vocab_size");
  add("context_lengths_disagree", edited([](json& h) { h["tokenizer"]["context_length"] = 5; }), "load", "CUCLIP_ERR_INVALID_MODEL",
      "context_length", "tokenizer.context_length = config.text.context_length");
  add("templates_not_array", edited([](json& h) { h["templates"] = "a photo of a {}"; }), "load", "CUCLIP_ERR_INVALID_MODEL",
      "header.templates", "templates is an array of strings");
  // Tensor table.
  add("tensors_missing", edited([](json& h) { h.erase("tensors"); }), "load", "CUCLIP_ERR_INVALID_MODEL", "header.tensors",
      "tensor table present");
  add("tensor_name_missing", edited([](json& h) { h["tensors"][0].erase("name"); }), "load", "CUCLIP_ERR_INVALID_MODEL",
      "tensor #0: missing name", "tensor name");
  add("tensor_name_duplicate", edited([](json& h) { h["tensors"][1]["name"] = h["tensors"][0]["name"]; }), "load",
      "CUCLIP_ERR_INVALID_MODEL", "appears twice", "tensor names unique");
  add("tensor_dtype_unknown", edited([](json& h) { tensor(h, "text.token_embed")["dtype"] = "q4_0"; }), "load",
      "CUCLIP_ERR_INVALID_MODEL", "tensor 'text.token_embed': unknown dtype", "tensor dtype known");
  add("tensor_dim_negative", edited([](json& h) { tensor(h, "text.token_embed")["shape"] = {10, -8}; }), "load",
      "CUCLIP_ERR_INVALID_MODEL", "tensor 'text.token_embed': every dim", "dims in [1, 2^31] (negative)");
  add("tensor_dim_zero", edited([](json& h) { tensor(h, "text.token_embed")["shape"] = {10, 0}; }), "load", "CUCLIP_ERR_INVALID_MODEL",
      "every dim", "dims in [1, 2^31] (zero)");
  add("tensor_dim_too_large", edited([](json& h) { tensor(h, "text.token_embed")["shape"] = {10, 4294967296LL}; }), "load",
      "CUCLIP_ERR_INVALID_MODEL", "every dim", "dims in [1, 2^31] (2^32)");
  add("tensor_rank_5", edited([](json& h) { tensor(h, "text.token_embed")["shape"] = {1, 1, 1, 10, 4}; }), "load",
      "CUCLIP_ERR_INVALID_MODEL", "at most 4 dims", "rank <= 4");
  add("tensor_offset_missing", edited([](json& h) { tensor(h, "text.pos_embed").erase("offset"); }), "load", "CUCLIP_ERR_INVALID_MODEL",
      "tensor 'text.pos_embed': offset", "offset present");
  add("tensor_bytes_negative", edited([](json& h) { tensor(h, "text.pos_embed")["bytes"] = -4; }), "load", "CUCLIP_ERR_INVALID_MODEL",
      "tensor 'text.pos_embed': bytes", "bytes is a non-negative integer");
  add("tensor_crc32_syntax", edited([](json& h) { tensor(h, "text.pos_embed")["crc32"] = "XYZ"; }), "load", "CUCLIP_ERR_INVALID_MODEL",
      "crc32 must be 8 lowercase hex digits", "crc32 syntax");
  add("tensor_bytes_disagree", edited([](json& h) { tensor(h, "text.pos_embed")["bytes"] = 4; }), "load", "CUCLIP_ERR_INVALID_MODEL",
      "tensor 'text.pos_embed': byte size 4 disagrees", "bytes = product(shape) * sizeof(dtype)");
  add("tensor_shape_product_overflows",
      edited([](json& h) { tensor(h, "text.pos_embed")["shape"] = {2147483648LL, 2147483648LL, 2147483648LL, 4}; }), "load",
      "CUCLIP_ERR_INVALID_MODEL", "shape product overflows", "shape product computed without overflow");
  add("tensor_offset_misaligned", edited([](json& h) { tensor(h, "text.pos_embed")["offset"] = tensor(h, "text.pos_embed")["offset"].get<uint64_t>() + 2; }),
      "load", "CUCLIP_ERR_INVALID_MODEL", "not a multiple of the alignment", "offset aligned");
  add("tensor_outside_data", edited([](json& h) { tensor(h, "text.pos_embed")["offset"] = 1ull << 40; }), "load",
      "CUCLIP_ERR_INVALID_MODEL", "lies outside the data section", "offset + bytes <= data_bytes");
  add("tensor_offset_wraps", edited([](json& h) { tensor(h, "text.pos_embed")["offset"] = UINT64_MAX - 255; }), "load",
      "CUCLIP_ERR_INVALID_MODEL", "outside the data section", "offset + bytes computed without overflow");
  add("tensor_must_be_f32", edited([](json& h) {
        auto& t = tensor(h, "vision.ln_post.bias");
        t["dtype"] = "f16";
        t["bytes"] = t["bytes"].get<uint64_t>() / 2;
      }),
      "load", "CUCLIP_ERR_INVALID_MODEL", "must be stored as f32", "rank-1 and positional tensors are f32");
  add("tensor_dtype_not_file_dtype", edited([](json& h) { h["file_dtype"] = "bf16"; }), "load", "CUCLIP_ERR_INVALID_MODEL",
      "differs from header.file_dtype", "matrices use file_dtype");
  add("tensors_overlap", edited([](json& h) { tensor(h, "text.pos_embed")["offset"] = tensor(h, "text.token_embed")["offset"]; }), "load",
      "CUCLIP_ERR_INVALID_MODEL", "overlap", "no overlap");
  add("tensor_missing", edited([](json& h) {
        auto& ts = h["tensors"];
        for (size_t i = 0; i < ts.size(); ++i)
          if (ts[i]["name"] == "text.ln_final.weight") { ts.erase(i); break; }
      }),
      "load", "CUCLIP_ERR_INVALID_MODEL", "tensor 'text.ln_final.weight' is missing", "every expected tensor present");
  add("tensor_shape_disagrees_with_config", edited([](json& h) {
        h["config"]["vision"]["width"] = 2;
        h["config"]["vision"]["heads"] = 1;
      }),
      "load", "CUCLIP_ERR_INVALID_MODEL", "but the config requires", "shapes agree with the config");
  add("tensor_unknown", edited([](json& h) { h["config"]["vision"]["ln_pre"] = false; }), "load", "CUCLIP_ERR_INVALID_MODEL",
      "is not part of this architecture", "no unknown tensor");
  // Data: loads (data is not read at load), refused by verify.
  {
    auto f = loadable_model();
    std::unique_ptr<cuclip::ModelFile> m;
    if (!cuclip::ModelFile::parse(f.data(), f.size(), {}, &m).ok()) throw std::runtime_error("bad corpus: tiny model does not load");
    const size_t at = (size_t)(m->find("text.token_embed")->data - f.data()) + 3;
    m.reset();
    f[at] ^= 0x10;
    add("flipped_tensor_byte", f, "verify", "CUCLIP_ERR_CHECKSUM", "text.token_embed", "tensor CRC32 (verify)");
  }
  {
    cuclip_test::Parts p = cuclip_test::split(loadable_model());
    json& t = tensor(p.header, "vision.class_embedding");
    const uint64_t off = t["offset"];
    const float nan = NAN;
    std::memcpy(p.data.data() + off, &nan, 4);
    t["crc32"] = crc_hex(cuclip::crc32_of(p.data.data() + off, t["bytes"].get<uint64_t>()));  // a checksum-valid NaN
    add("nan_weight", cuclip_test::join(p), "verify", "CUCLIP_ERR_INVALID_MODEL", "vision.class_embedding (1 NaN/Inf)",
        "weights are finite (verify)");
  }
}

}  // namespace cuclip_security
