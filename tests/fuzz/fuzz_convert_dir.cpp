// Fuzzer: the converter's text inputs, through the real entry point convert_directory. The first
// input byte picks which file of a valid checkpoint directory is replaced by the rest of the input:
//   0 config.json   1 preprocessor_config.json   2 vocab.json   3 merges.txt
//   4 tokenizer.json (vocab.json/merges.txt removed)   5 tokenizer_config.json
//   6 model.safetensors.index.json (the weights become its one shard)   7 open_clip_config.json
// Bases: the tiny transformers checkpoint of the adversarial corpus (tests/data/bad/converter/
// valid_hf, a few KB) and the bf16 open_clip fixture (its weights are linked, not copied).
// A conversion must either succeed and leave a file the engine loads (format and tokenizer), or
// fail with a message and leave no output or temporary file behind.
#include <filesystem>
#include <map>

#include "convert.hpp"
#include "cuclip/tokenizer.hpp"
#include "fuzz_common.hpp"
#include "model.hpp"  // tokenizer_spec_from_config (inline), as Model::load builds the tokenizer
#include "model_file.hpp"

using namespace cuclip;
namespace fs = std::filesystem;

namespace {

struct Bases {
  std::map<std::string, std::string> hf;  // file name -> bytes
  std::string oc_config, oc_weights_path;
};

const Bases& bases() {
  static const Bases b = [] {
    Bases r;
    const std::string hf_dir = cuclip_fuzz::test_data("bad/converter/valid_hf");
    for (const auto& e : fs::directory_iterator(hf_dir)) r.hf[e.path().filename().string()] = cuclip_fuzz::read_whole(e.path().string());
    if (!r.hf.count("config.json") || !r.hf.count("model.safetensors")) {
      std::fprintf(stderr, "fuzz_convert_dir: %s is missing or incomplete\n", hf_dir.c_str());
      std::abort();
    }
    const std::string oc = cuclip_fuzz::test_data("models/openclip_nolnpre_bias_bf16");
    r.oc_config = cuclip_fuzz::read_whole(oc + "/open_clip_config.json");
    r.oc_weights_path = oc + "/open_clip_model.safetensors";
    return r;
  }();
  return b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int which = data[0] % 8;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Bases& b = bases();
  const std::string dir = cuclip_fuzz::scratch_dir() + "/ckpt";
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir);
  if (which == 7) {
    cuclip_fuzz::write_file(dir + "/open_clip_config.json", body);
    fs::create_symlink(b.oc_weights_path, dir + "/open_clip_model.safetensors");
  } else {
    for (const auto& [name, bytes] : b.hf) cuclip_fuzz::write_file(dir + "/" + name, bytes);
    static const char* const kFile[] = {"config.json", "preprocessor_config.json", "vocab.json", "merges.txt",
                                        "tokenizer.json", "tokenizer_config.json", "model.safetensors.index.json"};
    if (which == 4) {
      fs::remove(dir + "/vocab.json");
      fs::remove(dir + "/merges.txt");
    }
    if (which == 6) fs::rename(dir + "/model.safetensors", dir + "/model-00001-of-00001.safetensors");
    cuclip_fuzz::write_file(dir + "/" + kFile[which], body);
  }
  const std::string out = cuclip_fuzz::scratch_dir() + "/out.cuclip";
  convert::ConvertOptions opts;
  opts.bundled_bpe = cuclip_fuzz::bundled_bpe_path();
  opts.templates = convert::TemplatesChoice::None;
  std::string summary;
  Status s = convert::convert_directory(dir, out, opts, &summary);
  cuclip_fuzz::check_refusal(s);
  if (s.ok()) {
    std::unique_ptr<ModelFile> m;
    Status ls = ModelFile::open(out, LoadLimits{}, &m);
    FUZZ_CHECK(ls.ok());  // the converter never writes a file the loader refuses...
    FUZZ_CHECK(m->verify().ok());
    // ...nor one whose tokenizer the engine refuses (Model::load builds it from these fields).
    const TokenizerConfig& tc = m->tokenizer();
    const tok::TokenizerSpec spec = tokenizer_spec_from_config(tc);
    std::unique_ptr<tok::Tokenizer> t;
    const Status ts = tok::Tokenizer::create(spec, &t);
    if (!ts.ok()) std::fprintf(stderr, "converted model's tokenizer refused: %s\n", ts.message.c_str());
    FUZZ_CHECK(ts.ok());
    fs::remove(out);
  } else {
    FUZZ_CHECK(!fs::exists(out));
  }
  for (const auto& e : fs::directory_iterator(cuclip_fuzz::scratch_dir()))
    FUZZ_CHECK(e.path().filename().string().find(".tmp") == std::string::npos);  // no half-written output
  return 0;
}
