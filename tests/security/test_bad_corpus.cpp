// The adversarial corpus (tests/data/bad, manifest.json): every bad model file, checkpoint directory
// and image is refused by the library with the manifest's status and a message holding its
// fragment; the CLI tools given each one print exactly one line and exit 1, never crash; and the
// committed files are exactly what the generator (bad_corpus*.cpp) builds.
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "bad_corpus.hpp"
#include "base/file.hpp"
#include "common/testing.hpp"
#include "convert.hpp"
#include "cuclip.h"
#include "cuclip/image.hpp"
#include "process.hpp"

using namespace cuclip_security;
using cuclip_test::data_path;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

cuclip_status status_from_name(const std::string& name) {
  static const std::map<std::string, cuclip_status> names = {
      {"CUCLIP_OK", CUCLIP_OK},
      {"CUCLIP_ERR_INVALID_ARGUMENT", CUCLIP_ERR_INVALID_ARGUMENT},
      {"CUCLIP_ERR_IO", CUCLIP_ERR_IO},
      {"CUCLIP_ERR_BAD_MAGIC", CUCLIP_ERR_BAD_MAGIC},
      {"CUCLIP_ERR_UNSUPPORTED_VERSION", CUCLIP_ERR_UNSUPPORTED_VERSION},
      {"CUCLIP_ERR_INVALID_MODEL", CUCLIP_ERR_INVALID_MODEL},
      {"CUCLIP_ERR_CHECKSUM", CUCLIP_ERR_CHECKSUM},
      {"CUCLIP_ERR_OUT_OF_MEMORY", CUCLIP_ERR_OUT_OF_MEMORY},
      {"CUCLIP_ERR_LIMIT_EXCEEDED", CUCLIP_ERR_LIMIT_EXCEEDED},
      {"CUCLIP_ERR_INVALID_IMAGE", CUCLIP_ERR_INVALID_IMAGE},
      {"CUCLIP_ERR_UNSUPPORTED_IMAGE", CUCLIP_ERR_UNSUPPORTED_IMAGE},
      {"CUCLIP_ERR_INVALID_TEXT", CUCLIP_ERR_INVALID_TEXT},
      {"CUCLIP_ERR_UNSUPPORTED", CUCLIP_ERR_UNSUPPORTED},
  };
  auto it = names.find(name);
  if (it == names.end()) throw std::runtime_error("manifest: unknown status " + name);
  return it->second;
}

std::vector<Expectation> manifest(const std::string& kind) {
  std::ifstream f(data_path("bad/manifest.json"));
  const json m = json::parse(f);
  std::vector<Expectation> out;
  for (const json& e : m["entries"])
    if (e["kind"] == kind) out.push_back({e["path"], e["kind"], e["stage"], e["status"], e["message"], e["rule"]});
  return out;
}

struct Scratch {
  std::string dir;
  Scratch() {
    char tmpl[] = "/tmp/cuclip_security_XXXXXX";
    dir = mkdtemp(tmpl);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

std::string bundled_bpe() { return std::string(CUCLIP_SOURCE_DIR) + "/tokenizer/data/bpe_simple_vocab_16e6.txt.gz"; }

}  // namespace

TEST_CASE("committed_bad_corpus_is_exactly_what_the_generator_builds") {
  const Corpus c = build_bad_corpus();
  std::set<std::string> expected;
  for (const CorpusFile& f : c.files) {
    INFO(f.path << " differs from the generator's output: regenerate with cuclip_gen_bad_corpus tests/data/bad");
    std::string on_disk;
    REQUIRE(cuclip::read_text_file(data_path("bad/" + f.path), 1 << 26, &on_disk).ok());
    CHECK(on_disk == f.bytes);
    expected.insert(f.path);
  }
  for (const char* sub : {"model", "converter"})
    for (const auto& e : fs::recursive_directory_iterator(data_path(std::string("bad/") + sub))) {
      if (!e.is_regular_file()) continue;
      const std::string rel = fs::relative(e.path(), data_path("bad")).string();
      INFO(rel << " is not produced by the generator (stale?)");
      CHECK(expected.count(rel) == 1);
    }
  // Every generated input is covered by the manifest, and the corpus stays small.
  size_t bytes = 0;
  for (const CorpusFile& f : c.files) bytes += f.bytes.size();
  CHECK(bytes < 1500 * 1024);
}

TEST_CASE("every_bad_model_file_is_refused_with_its_status_and_message") {
  const auto entries = manifest("model");
  REQUIRE(entries.size() >= 50);
  for (const Expectation& e : entries) {
    const std::string path = data_path("bad/" + e.path);
    INFO(e.path << " (rule: " << e.rule << ")");
    cuclip_model* m = nullptr;
    const cuclip_status load = cuclip_model_load(path.c_str(), cuclip_model_default_params(), &m);
    const std::string load_msg = cuclip_last_error();
    INFO("load: " << cuclip_status_string(load) << ": " << load_msg);
    if (e.stage == "load") {
      CHECK(load == status_from_name(e.status));
      CHECK(load_msg.find(e.message) != std::string::npos);
      if (load != CUCLIP_OK) CHECK(m == nullptr);
      if (load != CUCLIP_OK) CHECK(load_msg.find(path) != std::string::npos);  // names the file
    } else {
      REQUIRE(load == CUCLIP_OK);  // data is not read at load
      const cuclip_status v = cuclip_model_verify(m);
      const std::string verify_msg = cuclip_last_error();
      INFO("verify: " << cuclip_status_string(v) << ": " << verify_msg);
      CHECK(v == status_from_name(e.status));
      CHECK(verify_msg.find(e.message) != std::string::npos);
      // verify_checksums at load refuses the same file the same way.
      cuclip_model_params p = cuclip_model_default_params();
      p.verify_checksums = 1;
      cuclip_model* m2 = nullptr;
      CHECK(cuclip_model_load(path.c_str(), p, &m2) == status_from_name(e.status));
      CHECK(m2 == nullptr);
    }
    cuclip_model_free(m);
  }
}

TEST_CASE("every_bad_checkpoint_directory_is_refused_by_the_converter_and_leaves_no_file") {
  const auto entries = manifest("checkpoint");
  REQUIRE(entries.size() >= 60);
  Scratch s;
  for (const Expectation& e : entries) {
    const std::string dir = data_path("bad/" + e.path);
    INFO(e.path << " (rule: " << e.rule << ")");
    const std::string out = s.dir + "/out.cuclip";
    cuclip::convert::ConvertOptions o;
    o.bundled_bpe = bundled_bpe();
    std::string summary;
    cuclip::Status st;
    REQUIRE_NOTHROW(st = cuclip::convert::convert_directory(dir, out, o, &summary));
    INFO(cuclip_status_string(st.code) << ": " << st.message);
    CHECK(st.code == status_from_name(e.status));
    CHECK(st.message.find(e.message) != std::string::npos);
    if (!st.ok()) CHECK_FALSE(fs::exists(out));
    std::error_code ec;
    fs::remove(out, ec);
    for (const auto& f : fs::directory_iterator(s.dir)) CHECK(f.path().filename().string().find(".tmp") == std::string::npos);
  }
}

TEST_CASE("every_bad_image_is_refused_by_the_decoder_with_its_status_and_message") {
  const auto entries = manifest("image");
  REQUIRE(entries.size() >= 10);
  for (const Expectation& e : entries) {
    INFO(e.path << " (rule: " << e.rule << ")");
    cuclip::img::Image im;
    const cuclip::Status st = cuclip::img::decode_file(data_path("bad/" + e.path), {}, &im);
    INFO(cuclip_status_string(st.code) << ": " << st.message);
    CHECK(st.code == status_from_name(e.status));
    CHECK(st.message.find(e.message) != std::string::npos);
    CHECK(im.pixels.empty());
  }
}

TEST_CASE("cli_tools_print_one_line_and_exit_1_on_every_bad_model_and_checkpoint") {
  const std::string cuclip_exe = cuclip_test::binary_path("cuclip"), convert_exe = cuclip_test::binary_path("cuclip-convert");
  REQUIRE(fs::exists(cuclip_exe));
  REQUIRE(fs::exists(convert_exe));
  for (const Expectation& e : manifest("model")) {
    const std::string path = data_path("bad/" + e.path);
    const bool ok = e.status == "CUCLIP_OK";
    // A load-stage file is refused by `info`; a verify-stage file loads and is refused by `verify`.
    const ProcessResult r = run_process({cuclip_exe, e.stage == "verify" || ok ? "verify" : "info", path});
    INFO(e.path << ": exit " << r.exit_code << " signal " << r.signal << "\nstdout: " << r.out.substr(0, 300) << "\nstderr: " << r.err);
    CHECK(r.signal == 0);
    if (ok) {
      CHECK(r.exit_code == 0);
      continue;
    }
    CHECK(r.exit_code == 1);
    CHECK(count_lines(r.err) == 1);
    CHECK(r.err.find(e.message) != std::string::npos);
    CHECK(r.out.empty());
  }
  Scratch s;
  for (const Expectation& e : manifest("checkpoint")) {
    const std::string out = s.dir + "/out.cuclip";
    const ProcessResult r = run_process({convert_exe, data_path("bad/" + e.path), "-o", out});
    INFO(e.path << ": exit " << r.exit_code << " signal " << r.signal << "\nstdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.signal == 0);
    if (e.status == "CUCLIP_OK") {
      CHECK(r.exit_code == 0);
      // The control converts to a model the engine loads, tokenizer included.
      const ProcessResult info = run_process({cuclip_exe, "info", out});
      INFO("cuclip info: exit " << info.exit_code << "\n" << info.err);
      CHECK(info.exit_code == 0);
      std::error_code ec;
      fs::remove(out, ec);
      continue;
    }
    CHECK(r.exit_code == 1);
    CHECK(count_lines(r.err) == 1);
    CHECK(r.err.find(e.message) != std::string::npos);
    CHECK_FALSE(fs::exists(out));
  }
}
