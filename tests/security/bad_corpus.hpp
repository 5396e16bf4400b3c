// The adversarial corpus of tests/data/bad/: one model file per rejection rule of the .cuclip
// format, one checkpoint directory per rejection rule of the converter, plus the image engineer's
// bad images, each with its expected status and message fragment (manifest.json). Built
// deterministically in memory; `cuclip_gen_bad_corpus DIR` writes it, and the corpus test checks
// that the committed files are exactly what this code builds.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cuclip_security {

struct CorpusFile {
  std::string path;   // relative to tests/data/bad
  std::string bytes;
};

// One manifest entry: what must happen to `path` (a file, or a directory ending in '/').
struct Expectation {
  std::string path;
  std::string kind;     // "model" (loader), "checkpoint" (converter), "image" (decoder)
  std::string stage;    // "load" (refused when opened / converted / decoded) or "verify"
  std::string status;   // "CUCLIP_OK" or a cuclip_status enumerator name
  std::string message;  // a fragment the refusal message must contain ("" for CUCLIP_OK)
  std::string rule;     // the rule of docs/format.md or of the converter that the file breaks
};

struct Corpus {
  std::vector<CorpusFile> files;  // including manifest.json
  std::vector<Expectation> manifest;
};

// Every generated file (model/, converter/, manifest.json); images/ is listed in the manifest but
// owned by tests/reference/gen_images.py and not generated here.
Corpus build_bad_corpus();

// The 256 byte-level symbols a CLIP BPE vocab must hold, in byte order (GPT-2's bytes_to_unicode).
std::vector<std::string> clip_byte_symbols();

// Parts used by build_bad_corpus (one file per surface).
void add_model_cases(Corpus* c);
void add_converter_cases(Corpus* c);
void add_image_expectations(Corpus* c);
nlohmann::json manifest_json(const std::vector<Expectation>& m);

}  // namespace cuclip_security
