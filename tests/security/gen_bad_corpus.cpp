// cuclip_gen_bad_corpus DIR: writes the generated part of the adversarial corpus (model/,
// converter/, manifest.json) under DIR (tests/data/bad). Deterministic: running it twice gives the
// same bytes, and the corpus test fails when the committed files differ from what it builds.
// Regenerate after a format or converter change:
//   cmake --build build --target cuclip_gen_bad_corpus && build/tests/security/cuclip_gen_bad_corpus tests/data/bad
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "bad_corpus.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: cuclip_gen_bad_corpus DIR   (DIR = tests/data/bad)\n");
    return 1;
  }
  namespace fs = std::filesystem;
  const fs::path root = argv[1];
  const auto corpus = cuclip_security::build_bad_corpus();
  // Stale generated entries would otherwise linger: the generated subtrees are rewritten whole.
  for (const char* sub : {"model", "converter"}) fs::remove_all(root / sub);
  size_t bytes = 0;
  for (const auto& f : corpus.files) {
    const fs::path p = root / f.path;
    fs::create_directories(p.parent_path());
    std::ofstream o(p, std::ios::binary | std::ios::trunc);
    o.write(f.bytes.data(), (std::streamsize)f.bytes.size());
    if (!o) {
      std::fprintf(stderr, "cuclip_gen_bad_corpus: cannot write %s\n", p.c_str());
      return 1;
    }
    bytes += f.bytes.size();
  }
  std::printf("wrote %zu files (%zu bytes), %zu manifest entries under %s\n", corpus.files.size(), bytes, corpus.manifest.size(),
              root.c_str());
  return 0;
}
