#include "fixture_models.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <stdexcept>

#include "common/testing.hpp"
#include "convert.hpp"

namespace cuclip_test {

const std::vector<std::string> kFixtures = {"hf_legacy_quickgelu_f32", "hf_modern_gelu_f16_sharded", "openclip_nolnpre_bias_bf16",
                                            "openclip_openai_quickgelu_f32"};

namespace {
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/cuclip_test_XXXXXX";
    const char* p = mkdtemp(tmpl);
    if (!p) throw std::runtime_error("mkdtemp failed");
    path = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};
}  // namespace

std::string temp_dir() {
  static TempDir d;
  return d.path;
}

std::string converted_fixture(const std::string& name, cuclip::DType dtype) {
  static std::mutex mu;
  static std::map<std::string, std::string> cache;
  std::lock_guard<std::mutex> lock(mu);
  const std::string key = name + "." + cuclip::dtype_name(dtype);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  const std::string out = temp_dir() + "/" + key + ".cuclip";
  cuclip::convert::ConvertOptions opts;
  opts.dtype = dtype;
  opts.bundled_bpe = std::string(CUCLIP_SOURCE_DIR) + "/tokenizer/data/bpe_simple_vocab_16e6.txt.gz";
  std::string summary;
  cuclip::Status s = cuclip::convert::convert_directory(data_path("models/" + name), out, opts, &summary);
  if (!s.ok()) throw std::runtime_error("converting " + name + ": " + s.message);
  cache[key] = out;
  return out;
}

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open " + path);
  return nlohmann::json::parse(f);
}

}  // namespace cuclip_test
