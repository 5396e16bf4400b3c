// One test per rule of docs/format.md: a valid tiny file is broken in exactly one way and the
// loader must refuse it with the rule's status and a message naming the culprit.
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <functional>

#include "common/testing.hpp"
#include "model_file.hpp"
#include "tiny_model.hpp"

using namespace cuclip;
using cuclip_test::join;
using cuclip_test::Parts;
using cuclip_test::split;
using nlohmann::json;

namespace {

const std::vector<uint8_t>& valid_file() {
  static const std::vector<uint8_t> f = [] {
    std::string path = "/tmp/cuclip_format_test_" + std::to_string(getpid()) + ".cuclip";
    auto b = cuclip_test::write_tiny_model(path);
    unlink(path.c_str());
    return b;
  }();
  return f;
}

Status parse(const std::vector<uint8_t>& f, LoadLimits limits = {}) {
  std::unique_ptr<ModelFile> m;
  return ModelFile::parse(f.data(), f.size(), limits, &m);
}

void expect_refused(const std::vector<uint8_t>& f, cuclip_status code, const std::string& needle, LoadLimits limits = {}) {
  Status s = parse(f, limits);
  INFO("status " << cuclip_status_string(s.code) << ": " << s.message);
  REQUIRE(s.code == code);
  REQUIRE(s.message.find(needle) != std::string::npos);
}

std::vector<uint8_t> edit_header(const std::function<void(json&)>& edit) {
  Parts p = split(valid_file());
  edit(p.header);
  return join(p);
}

json& tensor_entry(json& h, const std::string& name) {
  for (auto& t : h["tensors"])
    if (t["name"] == name) return t;
  throw std::runtime_error("no tensor " + name);
}

template <class T>
void poke(std::vector<uint8_t>& f, size_t at, T v) { std::memcpy(f.data() + at, &v, sizeof v); }

}  // namespace

TEST_CASE("valid_file_loads_and_exposes_config_and_tensors") {
  std::unique_ptr<ModelFile> m;
  Status s = ModelFile::parse(valid_file().data(), valid_file().size(), {}, &m);
  INFO(s.message);
  REQUIRE(s.ok());
  CHECK(m->config().vision.width == 8);
  CHECK(m->config().text.vocab_size == 10);
  CHECK(m->tokenizer().vocab.size() == 10);
  CHECK(m->templates().size() == 1);
  REQUIRE(m->find("vision.patch_embed.weight") != nullptr);
  CHECK(m->find("vision.patch_embed.weight")->dtype == DType::F16);
  CHECK(m->find("vision.ln_pre.bias")->dtype == DType::F32);
  for (const auto& t : m->tensors()) CHECK((uintptr_t)(t.data - valid_file().data()) % 256 == 0);
  CHECK(m->verify().ok());
}

TEST_CASE("rule_truncated_fixed_header") {
  std::vector<uint8_t> f(valid_file().begin(), valid_file().begin() + 20);
  expect_refused(f, CUCLIP_ERR_INVALID_MODEL, "truncated");
  expect_refused({}, CUCLIP_ERR_INVALID_MODEL, "truncated");
}

TEST_CASE("rule_magic") {
  auto f = valid_file();
  f[0] = 'X';
  expect_refused(f, CUCLIP_ERR_BAD_MAGIC, "magic");
}

TEST_CASE("rule_version") {
  auto f = valid_file();
  poke<uint32_t>(f, 8, 2);
  expect_refused(f, CUCLIP_ERR_UNSUPPORTED_VERSION, "version 2");
}

TEST_CASE("rule_alignment_power_of_two_at_least_256") {
  for (uint32_t a : {0u, 128u, 300u, 1u << 21}) {
    auto f = valid_file();
    poke<uint32_t>(f, 12, a);
    expect_refused(f, CUCLIP_ERR_INVALID_MODEL, "alignment");
  }
}

TEST_CASE("rule_reserved_zero") {
  auto f = valid_file();
  poke<uint32_t>(f, 28, 7);
  expect_refused(f, CUCLIP_ERR_INVALID_MODEL, "reserved");
}

TEST_CASE("rule_header_length_cap") {
  auto f = valid_file();
  poke<uint64_t>(f, 16, 1ull << 40);
  expect_refused(f, CUCLIP_ERR_LIMIT_EXCEEDED, "exceeds the limit");
  LoadLimits small;
  small.max_header_bytes = 100;
  expect_refused(valid_file(), CUCLIP_ERR_LIMIT_EXCEEDED, "exceeds the limit", small);
}

TEST_CASE("rule_header_inside_file") {
  auto f = valid_file();
  poke<uint64_t>(f, 16, f.size());
  expect_refused(f, CUCLIP_ERR_INVALID_MODEL, "past the end");
}

TEST_CASE("rule_data_offset") {
  auto f = valid_file();
  uint64_t off;
  std::memcpy(&off, f.data() + 32, 8);
  poke<uint64_t>(f, 32, off + 256);
  expect_refused(f, CUCLIP_ERR_INVALID_MODEL, "data offset");
}

TEST_CASE("rule_file_size_truncated_or_trailing") {
  auto f = valid_file();
  f.resize(f.size() - 1);
  expect_refused(f, CUCLIP_ERR_INVALID_MODEL, "truncated or trailing");
  auto g = valid_file();
  g.push_back(0);
  expect_refused(g, CUCLIP_ERR_INVALID_MODEL, "truncated or trailing");
}

TEST_CASE("rule_padding_zero") {
  auto f = valid_file();
  uint64_t hb, off;
  std::memcpy(&hb, f.data() + 16, 8);
  std::memcpy(&off, f.data() + 32, 8);
  REQUIRE(off > 48 + hb);  // the tiny file has padding to damage
  f[off - 1] = 1;
  expect_refused(f, CUCLIP_ERR_INVALID_MODEL, "padding");
}

TEST_CASE("rule_header_checksum") {
  auto f = valid_file();
  f[60] ^= 0x01;  // flips a byte inside the JSON header
  expect_refused(f, CUCLIP_ERR_CHECKSUM, "header checksum");
}

TEST_CASE("rule_header_is_json_object") {
  Parts p = split(valid_file());
  auto f = join(p);
  // Replace the header with invalid JSON of the same length, and fix its checksum.
  uint64_t hb;
  std::memcpy(&hb, f.data() + 16, 8);
  std::memset(f.data() + 48, '{', hb);
  uint32_t crc = crc32_of(f.data() + 48, hb);
  poke<uint32_t>(f, 24, crc);
  expect_refused(f, CUCLIP_ERR_INVALID_MODEL, "not valid JSON");
  expect_refused(edit_header([](json& h) { h = json::array(); }), CUCLIP_ERR_INVALID_MODEL, "not a JSON object");
}

TEST_CASE("rule_format_field") {
  expect_refused(edit_header([](json& h) { h["format"] = "gguf"; }), CUCLIP_ERR_INVALID_MODEL, "header.format");
}

TEST_CASE("rule_file_dtype") {
  expect_refused(edit_header([](json& h) { h["file_dtype"] = "f8"; }), CUCLIP_ERR_INVALID_MODEL, "file_dtype");
}

TEST_CASE("rule_config_fields_present_and_sane") {
  expect_refused(edit_header([](json& h) { h["config"]["vision"].erase("heads"); }), CUCLIP_ERR_INVALID_MODEL, "config.vision.heads: missing");
  expect_refused(edit_header([](json& h) { h["config"]["text"]["layers"] = 0; }), CUCLIP_ERR_INVALID_MODEL, "config.text.layers");
  expect_refused(edit_header([](json& h) { h["config"]["text"]["layers"] = 1e9; }), CUCLIP_ERR_INVALID_MODEL, "config.text.layers");
  expect_refused(edit_header([](json& h) { h["config"]["vision"]["head_dim"] = 3; }), CUCLIP_ERR_INVALID_MODEL, "heads * head_dim");
  expect_refused(edit_header([](json& h) { h["config"]["vision"]["patch_size"] = 9; }), CUCLIP_ERR_INVALID_MODEL, "is larger than image_size");
  expect_refused(edit_header([](json& h) { h["config"]["text"]["activation"] = "relu"; }), CUCLIP_ERR_INVALID_MODEL, "config.text.activation");
  expect_refused(edit_header([](json& h) { h["config"]["logit_scale"] = "big"; }), CUCLIP_ERR_INVALID_MODEL, "config.logit_scale");
  expect_refused(edit_header([](json& h) { h["config"]["text"]["eot_id"] = 10; }), CUCLIP_ERR_INVALID_MODEL, "eot_id");
  expect_refused(edit_header([](json& h) { h.erase("config"); }), CUCLIP_ERR_INVALID_MODEL, "config: missing");
}

TEST_CASE("rule_preprocess_fields") {
  expect_refused(edit_header([](json& h) { h["preprocess"]["std"] = {0.5, 0.0, 0.5}; }), CUCLIP_ERR_INVALID_MODEL, "preprocess.std");
  expect_refused(edit_header([](json& h) { h["preprocess"]["resize_mode"] = "fit"; }), CUCLIP_ERR_INVALID_MODEL, "preprocess.resize_mode");
  expect_refused(edit_header([](json& h) { h["preprocess"]["mean"] = {0.5}; }), CUCLIP_ERR_INVALID_MODEL, "preprocess.mean");
  // Finite as doubles, but kept as floats: 1e300 overflows to inf, 1e-50 underflows to 0.
  expect_refused(edit_header([](json& h) { h["preprocess"]["std"] = {1e300, 0.5, 0.5}; }), CUCLIP_ERR_INVALID_MODEL, "preprocess.std");
  expect_refused(edit_header([](json& h) { h["preprocess"]["std"] = {1e-50, 0.5, 0.5}; }), CUCLIP_ERR_INVALID_MODEL, "preprocess.std");
  expect_refused(edit_header([](json& h) { h["preprocess"]["mean"] = {0.5, -1e300, 0.5}; }), CUCLIP_ERR_INVALID_MODEL, "preprocess.mean");
}

TEST_CASE("rule_preprocess_size_equals_image_size") {
  // Pixel buffers are sized by config.vision.image_size (8 here); preprocessing writes size^2 pixels.
  expect_refused(edit_header([](json& h) { h["preprocess"]["size"] = 224; }), CUCLIP_ERR_INVALID_MODEL,
                 "preprocess.size 224 differs from config.vision.image_size 8");
  expect_refused(edit_header([](json& h) { h["preprocess"]["size"] = 4; }), CUCLIP_ERR_INVALID_MODEL, "preprocess.size 4");
}

TEST_CASE("rule_tokenizer_fields") {
  expect_refused(edit_header([](json& h) { h["tokenizer"]["sot_id"] = 10; }), CUCLIP_ERR_INVALID_MODEL, "sot_id");
  expect_refused(edit_header([](json& h) { h["tokenizer"]["vocab"][3] = 5; }), CUCLIP_ERR_INVALID_MODEL, "tokenizer.vocab");
  expect_refused(edit_header([](json& h) { h["tokenizer"]["type"] = "sentencepiece"; }), CUCLIP_ERR_INVALID_MODEL, "tokenizer.type");
}

TEST_CASE("rule_vocab_size_agrees_with_config") {
  expect_refused(edit_header([](json& h) { h["tokenizer"]["vocab"].erase(9); h["tokenizer"]["eot_id"] = 8; }), CUCLIP_ERR_INVALID_MODEL,
                 "vocab_size");
}

TEST_CASE("rule_context_lengths_agree") {
  expect_refused(edit_header([](json& h) { h["tokenizer"]["context_length"] = 5; }), CUCLIP_ERR_INVALID_MODEL, "context_length");
}

TEST_CASE("rule_templates_array_of_strings") {
  expect_refused(edit_header([](json& h) { h["templates"] = "a {}"; }), CUCLIP_ERR_INVALID_MODEL, "templates");
  expect_refused(edit_header([](json& h) { h["templates"] = {1}; }), CUCLIP_ERR_INVALID_MODEL, "templates");
}

TEST_CASE("rule_tensor_count_cap") {
  LoadLimits small;
  small.max_tensor_count = 3;
  expect_refused(valid_file(), CUCLIP_ERR_LIMIT_EXCEEDED, "tensors, over the limit", small);
}

TEST_CASE("rule_tensor_name_present_and_unique") {
  expect_refused(edit_header([](json& h) { h["tensors"][0].erase("name"); }), CUCLIP_ERR_INVALID_MODEL, "tensor #0: missing name");
  expect_refused(edit_header([](json& h) { h["tensors"][1]["name"] = h["tensors"][0]["name"]; }), CUCLIP_ERR_INVALID_MODEL, "appears twice");
}

TEST_CASE("rule_tensor_dtype_known") {
  expect_refused(edit_header([](json& h) { tensor_entry(h, "text.token_embed")["dtype"] = "q4_0"; }), CUCLIP_ERR_INVALID_MODEL,
                 "tensor 'text.token_embed': unknown dtype");
}

TEST_CASE("rule_tensor_shape_dims") {
  expect_refused(edit_header([](json& h) { tensor_entry(h, "text.token_embed")["shape"] = {10, -8}; }), CUCLIP_ERR_INVALID_MODEL,
                 "tensor 'text.token_embed': every dim");
  expect_refused(edit_header([](json& h) { tensor_entry(h, "text.token_embed")["shape"] = {10, 0}; }), CUCLIP_ERR_INVALID_MODEL,
                 "every dim");
  expect_refused(edit_header([](json& h) { tensor_entry(h, "text.token_embed")["shape"] = {1, 1, 1, 1, 80}; }), CUCLIP_ERR_INVALID_MODEL,
                 "at most 4 dims");
}

TEST_CASE("rule_tensor_offset_and_bytes_present") {
  expect_refused(edit_header([](json& h) { tensor_entry(h, "text.pos_embed").erase("offset"); }), CUCLIP_ERR_INVALID_MODEL,
                 "tensor 'text.pos_embed': offset");
  expect_refused(edit_header([](json& h) { tensor_entry(h, "text.pos_embed")["bytes"] = -4; }), CUCLIP_ERR_INVALID_MODEL,
                 "tensor 'text.pos_embed': bytes");
}

TEST_CASE("rule_tensor_crc32_syntax") {
  expect_refused(edit_header([](json& h) { tensor_entry(h, "text.pos_embed")["crc32"] = "xyz"; }), CUCLIP_ERR_INVALID_MODEL, "crc32");
}

TEST_CASE("rule_tensor_bytes_equal_shape_times_dtype") {
  expect_refused(edit_header([](json& h) { tensor_entry(h, "text.pos_embed")["bytes"] = 4; }), CUCLIP_ERR_INVALID_MODEL,
                 "tensor 'text.pos_embed': byte size 4 disagrees");
  // A shape whose product overflows 64 bits must be caught by checked arithmetic.
  expect_refused(edit_header([](json& h) { tensor_entry(h, "text.pos_embed")["shape"] = {2147483648LL, 2147483648LL, 2147483648LL, 4}; }),
                 CUCLIP_ERR_INVALID_MODEL, "overflows");
}

TEST_CASE("rule_tensor_offset_aligned") {
  expect_refused(edit_header([](json& h) { tensor_entry(h, "text.pos_embed")["offset"] = tensor_entry(h, "text.pos_embed")["offset"].get<uint64_t>() + 2; }),
                 CUCLIP_ERR_INVALID_MODEL, "not a multiple of the alignment");
}

TEST_CASE("rule_tensor_inside_data_section") {
  expect_refused(edit_header([](json& h) { tensor_entry(h, "text.pos_embed")["offset"] = 1ull << 40; }), CUCLIP_ERR_INVALID_MODEL,
                 "tensor 'text.pos_embed': data");
  expect_refused(edit_header([](json& h) { tensor_entry(h, "text.pos_embed")["offset"] = UINT64_MAX - 255; }), CUCLIP_ERR_INVALID_MODEL,
                 "outside the data section");
}

TEST_CASE("rule_tensor_dtype_rule") {
  expect_refused(edit_header([](json& h) {
                   auto& t = tensor_entry(h, "vision.ln_post.bias");
                   t["dtype"] = "f16";
                   t["bytes"] = t["bytes"].get<uint64_t>() / 2;
                 }),
                 CUCLIP_ERR_INVALID_MODEL, "must be stored as f32");
  expect_refused(edit_header([](json& h) { h["file_dtype"] = "bf16"; }), CUCLIP_ERR_INVALID_MODEL, "differs from header.file_dtype");
}

TEST_CASE("rule_tensors_do_not_overlap") {
  expect_refused(edit_header([](json& h) { tensor_entry(h, "text.pos_embed")["offset"] = tensor_entry(h, "text.token_embed")["offset"]; }),
                 CUCLIP_ERR_INVALID_MODEL, "overlap");
}

TEST_CASE("rule_every_expected_tensor_present") {
  expect_refused(edit_header([](json& h) {
                   auto& ts = h["tensors"];
                   for (size_t i = 0; i < ts.size(); ++i)
                     if (ts[i]["name"] == "text.ln_final.weight") { ts.erase(i); break; }
                 }),
                 CUCLIP_ERR_INVALID_MODEL, "tensor 'text.ln_final.weight' is missing");
}

TEST_CASE("rule_tensor_shape_agrees_with_config") {
  // Config says vision width 8 heads 2 x 4; claim width 4 with 1 x 4 heads: every vision tensor disagrees.
  expect_refused(edit_header([](json& h) {
                   h["config"]["vision"]["width"] = 4;
                   h["config"]["vision"]["heads"] = 1;
                 }),
                 CUCLIP_ERR_INVALID_MODEL, "but the config requires");
}

TEST_CASE("rule_no_unknown_tensor") {
  expect_refused(edit_header([](json& h) { tensor_entry(h, "text.ln_final.weight")["name"] = "text.ln_final.gamma"; }),
                 CUCLIP_ERR_INVALID_MODEL, "tensor 'text.ln_final.weight' is missing");
  expect_refused(edit_header([](json& h) {
                   h["config"]["vision"]["ln_pre"] = false;  // the file still carries ln_pre tensors
                 }),
                 CUCLIP_ERR_INVALID_MODEL, "is not part of this architecture");
}

TEST_CASE("verify_detects_flipped_tensor_data_and_names_the_tensor") {
  auto f = valid_file();
  std::unique_ptr<ModelFile> m;
  REQUIRE(ModelFile::parse(f.data(), f.size(), {}, &m).ok());
  const TensorInfo* t = m->find("text.token_embed");
  const size_t at = (size_t)(t->data - f.data()) + 3;
  auto g = f;
  g[at] ^= 0x10;
  std::unique_ptr<ModelFile> m2;
  REQUIRE(ModelFile::parse(g.data(), g.size(), {}, &m2).ok());  // data is not read at load
  Status s = m2->verify();
  REQUIRE(s.code == CUCLIP_ERR_CHECKSUM);
  REQUIRE(s.message.find("text.token_embed") != std::string::npos);
}

TEST_CASE("verify_reports_non_finite_weights_per_tensor") {
  Parts p = split(valid_file());
  json& t = tensor_entry(p.header, "vision.class_embedding");
  const uint64_t off = t["offset"];
  const float nan = NAN;
  std::memcpy(p.data.data() + off, &nan, 4);
  t["crc32"] = [&] {
    char b[9];
    std::snprintf(b, sizeof b, "%08x", crc32_of(p.data.data() + off, t["bytes"].get<uint64_t>()));
    return std::string(b);
  }();
  auto f = join(p);
  std::unique_ptr<ModelFile> m;
  REQUIRE(ModelFile::parse(f.data(), f.size(), {}, &m).ok());
  Status s = m->verify();
  REQUIRE(s.code == CUCLIP_ERR_INVALID_MODEL);
  REQUIRE(s.message.find("vision.class_embedding (1 NaN/Inf)") != std::string::npos);
}

TEST_CASE("writer_refuses_tensor_sets_that_disagree_with_the_config_and_leaves_no_file") {
  ModelWriter w;
  w.config = cuclip_test::tiny_config();
  w.tokenizer.vocab = {"a"};
  w.add_tensor("vision.class_embedding", DType::F32, {8}, [](uint8_t*, uint64_t) { return Status::Ok(); });
  const std::string path = "/tmp/cuclip_writer_refuses_" + std::to_string(getpid()) + ".cuclip";
  Status s = w.write(path);
  REQUIRE(s.code == CUCLIP_ERR_INVALID_MODEL);
  REQUIRE(access(path.c_str(), F_OK) != 0);
  REQUIRE(access((path + ".tmp." + std::to_string(getpid())).c_str(), F_OK) != 0);
}
