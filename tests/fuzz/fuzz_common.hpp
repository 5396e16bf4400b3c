// Helpers shared by the libFuzzer targets: invariant checks that turn a silent logic error into a
// finding, a per-process scratch directory, and small file utilities. Header-only on purpose:
// each fuzzer is one translation unit plus the libraries under test.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "base/status.hpp"

namespace cuclip_fuzz {

// A broken invariant is a finding: print why and crash so libFuzzer saves the input.
[[noreturn]] inline void invariant_failed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "fuzz invariant failed at %s:%d: %s\n", file, line, what);
  std::fflush(stderr);
  __builtin_trap();
}
#define FUZZ_CHECK(cond) \
  do { if (!(cond)) ::cuclip_fuzz::invariant_failed(#cond, __FILE__, __LINE__); } while (0)

// Every refusal must carry a known code and a message naming the culprit.
inline void check_refusal(const cuclip::Status& s) {
  if (s.ok()) return;
  FUZZ_CHECK(!s.message.empty());
  FUZZ_CHECK(s.code > CUCLIP_OK && s.code <= CUCLIP_ERR_UNSUPPORTED);
}

// A scratch directory for this fuzzer process, removed at exit.
inline const std::string& scratch_dir() {
  struct Dir {
    std::string path;
    Dir() {
      const char* base = std::getenv("TMPDIR");
      std::string tmpl = std::string(base && *base ? base : "/tmp") + "/cuclip_fuzz_XXXXXX";
      if (!mkdtemp(tmpl.data())) std::abort();  // the harness, not the library: no scratch, no run
      path = tmpl;
    }
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static Dir d;
  return d.path;
}

inline void write_file(const std::string& path, std::string_view bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), (std::streamsize)bytes.size());
}

inline std::string read_whole(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

inline std::string bundled_bpe_path() { return std::string(CUCLIP_SOURCE_DIR) + "/tokenizer/data/bpe_simple_vocab_16e6.txt.gz"; }
inline std::string test_data(const std::string& rel) { return std::string(CUCLIP_SOURCE_DIR) + "/tests/data/" + rel; }

}  // namespace cuclip_fuzz
