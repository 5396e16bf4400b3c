// cuclip-convert on both layouts: each fixture converts in every dtype and `info` shows its
// architecture; broken checkpoints of every kind are refused with a message naming the culprit,
// and no output (or temporary) file is left behind.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "base/file.hpp"
#include "common/testing.hpp"
#include "convert.hpp"
#include "cuclip.h"
#include "fixture_models.hpp"
#include "model_file.hpp"

using namespace cuclip_test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A scratch copy of a fixture directory that a test may damage.
std::string copy_fixture(const std::string& name, const std::string& tag) {
  const std::string dst = temp_dir() + "/" + tag;
  fs::remove_all(dst);
  fs::copy(data_path("models/" + name), dst, fs::copy_options::recursive);
  return dst;
}

cuclip::Status convert(const std::string& dir, const std::string& out, cuclip::DType dt = cuclip::DType::F16) {
  cuclip::convert::ConvertOptions o;
  o.dtype = dt;
  o.bundled_bpe = std::string(CUCLIP_SOURCE_DIR) + "/tokenizer/data/bpe_simple_vocab_16e6.txt.gz";
  std::string summary;
  return cuclip::convert::convert_directory(dir, out, o, &summary);
}

void expect_refused(const std::string& dir, const std::string& needle) {
  const std::string out = temp_dir() + "/refused.cuclip";
  cuclip::Status s = convert(dir, out);
  INFO(s.message);
  REQUIRE(!s.ok());
  CHECK(s.message.find(needle) != std::string::npos);
  CHECK(!fs::exists(out));
  for (const auto& e : fs::directory_iterator(temp_dir())) CHECK(e.path().filename().string().find("refused.cuclip.tmp") == std::string::npos);
}

// Minimal safetensors writer for crafting checkpoints.
struct StEntry {
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};
void write_safetensors(const std::string& path, const std::map<std::string, StEntry>& t, const std::string& header_override = "") {
  json h = json::object();
  uint64_t off = 0;
  std::vector<uint8_t> data;
  for (const auto& [name, e] : t) {
    h[name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {off, off + e.bytes.size()}}};
    data.insert(data.end(), e.bytes.begin(), e.bytes.end());
    off += e.bytes.size();
  }
  std::string hs = header_override.empty() ? h.dump() : header_override;
  uint64_t n = hs.size();
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write((const char*)&n, 8);
  f.write(hs.data(), (std::streamsize)hs.size());
  f.write((const char*)data.data(), (std::streamsize)data.size());
}

// Reads a safetensors file back into entries (for editing).
std::map<std::string, StEntry> read_safetensors(const std::string& path) {
  std::vector<uint8_t> b;
  REQUIRE(cuclip::read_file(path, 1ull << 32, &b).ok());
  uint64_t n;
  std::memcpy(&n, b.data(), 8);
  json h = json::parse(b.begin() + 8, b.begin() + 8 + (ptrdiff_t)n);
  std::map<std::string, StEntry> t;
  for (auto it = h.begin(); it != h.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    StEntry e;
    e.dtype = (*it)["dtype"];
    e.shape = (*it)["shape"].get<std::vector<int64_t>>();
    uint64_t s = (*it)["data_offsets"][0], en = (*it)["data_offsets"][1];
    e.bytes.assign(b.begin() + 8 + (ptrdiff_t)(n + s), b.begin() + 8 + (ptrdiff_t)(n + en));
    t[it.key()] = e;
  }
  return t;
}

void edit_json(const std::string& path, const std::function<void(json&)>& f) {
  json j = read_json_file(path);
  f(j);
  std::ofstream(path) << j.dump();
}

}  // namespace

TEST_CASE("every_fixture_converts_in_every_dtype_and_info_shows_its_architecture") {
  for (const std::string& name : kFixtures) {
    const auto fx = read_json_file(data_path("reference/" + name + "/fixture.json"));
    for (cuclip::DType dt : {cuclip::DType::F32, cuclip::DType::F16, cuclip::DType::BF16}) {
      const std::string out = temp_dir() + "/" + name + "." + cuclip::dtype_name(dt) + ".info.cuclip";
      cuclip::Status s = convert(data_path("models/" + name), out, dt);
      INFO(name << " " << cuclip::dtype_name(dt) << ": " << s.message);
      REQUIRE(s.ok());
      cuclip_model* m = nullptr;
      cuclip_model_params mp = cuclip_model_default_params();
      mp.verify_checksums = 1;
      REQUIRE(cuclip_model_load(out.c_str(), mp, &m) == CUCLIP_OK);
      json info = json::parse(cuclip_model_info_json(m));
      CHECK(info["file_dtype"] == cuclip::dtype_name(dt));
      CHECK(info["config"]["embed_dim"] == fx["embed_dim"]);
      CHECK(info["config"]["vision"]["image_size"] == fx["vision"]["image_size"]);
      CHECK(info["config"]["vision"]["patch_size"] == fx["vision"]["patch_size"]);
      CHECK(info["config"]["vision"]["width"] == fx["vision"]["width"]);
      CHECK(info["config"]["vision"]["head_dim"] == fx["vision"]["head_dim"]);
      CHECK(info["config"]["text"]["width"] == fx["text"]["width"]);
      CHECK(info["config"]["text"]["heads"] == fx["text"]["heads"]);
      CHECK(cuclip_model_verify(m) == CUCLIP_OK);
      cuclip_model_free(m);
      fs::remove(out);
    }
  }
}

TEST_CASE("refuses_a_directory_of_neither_layout") {
  const std::string d = temp_dir() + "/empty_dir";
  fs::create_directories(d);
  expect_refused(d, "neither config.json");
}

TEST_CASE("refuses_unknown_tensors_by_name") {
  const std::string d = copy_fixture("openclip_openai_quickgelu_f32", "unknown_tensor");
  auto t = read_safetensors(d + "/open_clip_model.safetensors");
  t["visual.extra_adapter.weight"] = {"F32", {2}, std::vector<uint8_t>(8, 0)};
  write_safetensors(d + "/open_clip_model.safetensors", t);
  expect_refused(d, "visual.extra_adapter.weight");
}

TEST_CASE("ignores_known_position_id_buffers_but_refuses_missing_tensors") {
  const std::string d = copy_fixture("hf_legacy_quickgelu_f32", "missing_tensor");
  auto t = read_safetensors(d + "/model.safetensors");
  REQUIRE(t.count("text_model.embeddings.position_ids"));  // a known buffer: converting the fixture works
  t.erase("text_model.final_layer_norm.bias");
  write_safetensors(d + "/model.safetensors", t);
  expect_refused(d, "text_model.final_layer_norm.bias");
}

TEST_CASE("refuses_tensors_whose_shape_disagrees_with_the_config") {
  const std::string d = copy_fixture("hf_legacy_quickgelu_f32", "bad_shape");
  auto t = read_safetensors(d + "/model.safetensors");
  t["visual_projection.weight"].shape = {12, 128};  // same bytes, other shape
  write_safetensors(d + "/model.safetensors", t);
  expect_refused(d, "visual_projection.weight");
}

TEST_CASE("refuses_unsupported_weight_dtypes") {
  const std::string d = copy_fixture("hf_legacy_quickgelu_f32", "bad_dtype");
  auto t = read_safetensors(d + "/model.safetensors");
  auto& e = t["text_projection.weight"];
  e.dtype = "I32";
  write_safetensors(d + "/model.safetensors", t);
  expect_refused(d, "text_projection.weight");
}

TEST_CASE("refuses_malformed_safetensors") {
  const std::string d = copy_fixture("openclip_openai_quickgelu_f32", "bad_st");
  const std::string p = d + "/open_clip_model.safetensors";
  auto t = read_safetensors(p);
  SECTION("truncated") {
    fs::resize_file(p, fs::file_size(p) - 100);
    expect_refused(d, "open_clip_model.safetensors");
  }
  SECTION("huge header length") {
    std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
    uint64_t n = 1ull << 50;
    f.write((const char*)&n, 8);
    f.close();
    expect_refused(d, "header length");
  }
  SECTION("header not json") {
    write_safetensors(p, {}, "{not json");
    expect_refused(d, "not a JSON object");
  }
  SECTION("unknown dtype") {
    t["ln_final.bias"].dtype = "F4";
    write_safetensors(p, t);
    expect_refused(d, "unknown dtype 'F4'");
  }
  SECTION("overflowing shape") {
    t["ln_final.bias"].shape = {1ll << 40, 1ll << 40};
    write_safetensors(p, t);
    expect_refused(d, "overflows");
  }
  SECTION("byte count disagrees with shape") {
    t["ln_final.bias"].shape = {17};
    write_safetensors(p, t);
    expect_refused(d, "disagree with shape");
  }
  SECTION("file too short") {
    std::ofstream(p, std::ios::trunc) << "abc";
    expect_refused(d, "too short");
  }
}

TEST_CASE("refuses_absurd_or_inconsistent_configs") {
  SECTION("hf heads do not divide width") {
    const std::string d = copy_fixture("hf_legacy_quickgelu_f32", "cfg_heads");
    edit_json(d + "/config.json", [](json& j) { j["vision_config"]["num_attention_heads"] = 3; });
    expect_refused(d, "not divisible by num_attention_heads");
  }
  SECTION("hf unsupported activation") {
    const std::string d = copy_fixture("hf_legacy_quickgelu_f32", "cfg_act");
    edit_json(d + "/config.json", [](json& j) { j["text_config"]["hidden_act"] = "gelu_new"; });
    expect_refused(d, "hidden_act 'gelu_new'");
  }
  SECTION("hf absurd layer count") {
    const std::string d = copy_fixture("hf_legacy_quickgelu_f32", "cfg_layers");
    edit_json(d + "/config.json", [](json& j) { j["text_config"]["num_hidden_layers"] = 1000000; });
    expect_refused(d, "num_hidden_layers");
  }
  SECTION("hf not a clip model") {
    const std::string d = copy_fixture("hf_legacy_quickgelu_f32", "cfg_type");
    edit_json(d + "/config.json", [](json& j) { j["model_type"] = "siglip"; });
    expect_refused(d, "model_type 'siglip'");
  }
  SECTION("hf config not json") {
    const std::string d = copy_fixture("hf_legacy_quickgelu_f32", "cfg_json");
    std::ofstream(d + "/config.json", std::ios::trunc) << "{\"model_type\": ";
    expect_refused(d, "config.json' is not valid JSON");
  }
  SECTION("hf missing preprocessor config") {
    const std::string d = copy_fixture("hf_legacy_quickgelu_f32", "cfg_pre");
    fs::remove(d + "/preprocessor_config.json");
    expect_refused(d, "preprocessor_config.json");
  }
  SECTION("hf layer count disagrees with the weights") {
    const std::string d = copy_fixture("hf_modern_gelu_f16_sharded", "cfg_more_layers");
    edit_json(d + "/config.json", [](json& j) { j["vision_config"]["num_hidden_layers"] = 3; });
    expect_refused(d, "vision_model.encoder.layers.2");
  }
  SECTION("open_clip unsupported switch") {
    const std::string d = copy_fixture("openclip_openai_quickgelu_f32", "cfg_attnpool");
    edit_json(d + "/open_clip_config.json", [](json& j) { j["model_cfg"]["vision_cfg"]["attentional_pool"] = true; });
    expect_refused(d, "attentional_pool");
  }
  SECTION("open_clip negative width") {
    const std::string d = copy_fixture("openclip_openai_quickgelu_f32", "cfg_width");
    edit_json(d + "/open_clip_config.json", [](json& j) { j["model_cfg"]["text_cfg"]["width"] = -16; });
    expect_refused(d, "text_cfg.width");
  }
}

TEST_CASE("refuses_values_that_overflow_the_target_dtype") {
  const std::string d = copy_fixture("openclip_openai_quickgelu_f32", "overflow");
  auto t = read_safetensors(d + "/open_clip_model.safetensors");
  float big = 1e6f;
  std::memcpy(t["ln_final.weight"].bytes.data(), &big, 4);  // ln weights stay f32: fine
  std::memcpy(t["token_embedding.weight"].bytes.data(), &big, 4);
  write_safetensors(d + "/open_clip_model.safetensors", t);
  expect_refused(d, "overflows f16");
  cuclip::Status s = convert(d, temp_dir() + "/overflow_ok.cuclip", cuclip::DType::BF16);
  CHECK(s.ok());
}

TEST_CASE("refuses_nan_weights") {
  const std::string d = copy_fixture("openclip_openai_quickgelu_f32", "nan");
  auto t = read_safetensors(d + "/open_clip_model.safetensors");
  float nan = NAN;
  std::memcpy(t["visual.proj"].bytes.data() + 8, &nan, 4);
  write_safetensors(d + "/open_clip_model.safetensors", t);
  expect_refused(d, "visual.proj");
}

TEST_CASE("sharded_index_must_agree_with_the_shards") {
  const std::string d = copy_fixture("hf_modern_gelu_f16_sharded", "shard_index");
  edit_json(d + "/model.safetensors.index.json", [](json& j) { j["weight_map"]["logit_scale"] = "../../etc/passwd"; });
  expect_refused(d, "not a plain file name");
}
