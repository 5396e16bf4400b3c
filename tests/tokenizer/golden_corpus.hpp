// Loads the tokenizer golden corpus (tests/data/tokenizer/golden.jsonl.gz, written by
// tests/reference/gen_tokenizer.py from open_clip 3.3.0 and transformers' fast CLIPTokenizer).
#pragma once
#include <zlib.h>

#include <nlohmann/json.hpp>
#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/testing.hpp"

namespace cuclip_test {

struct GoldenRow {
  std::string category, text, oc_clean, hf_norm;
  std::vector<int32_t> oc, hf;  // content ids, untruncated
  std::vector<std::string> flags;  // documented classes allowed to differ (see gen_tokenizer.py)
  bool has_flag(const std::string& f) const { return std::find(flags.begin(), flags.end(), f) != flags.end(); }
};

inline std::string gunzip_file(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error("cannot open " + path);
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  gzclose(f);
  if (n < 0) throw std::runtime_error("gzip error in " + path);
  return out;
}

inline std::vector<GoldenRow> load_corpus(const std::string& rel_path) {
    std::vector<GoldenRow> out;
    const std::string text = gunzip_file(data_path(rel_path));
    size_t pos = 0;
    while (pos < text.size()) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string::npos) nl = text.size();
      if (nl > pos) {
        auto j = nlohmann::json::parse(text.begin() + pos, text.begin() + nl);
        GoldenRow r;
        r.category = j["cat"];
        r.text = j["text"];
        r.oc_clean = j.value("oc_clean", std::string());
        r.hf_norm = j.value("hf_norm", std::string());
        r.oc = j["oc"].get<std::vector<int32_t>>();
        r.hf = j["hf"].get<std::vector<int32_t>>();
        r.flags = j["flags"].get<std::vector<std::string>>();
        out.push_back(std::move(r));
      }
      pos = nl + 1;
    }
    return out;
}

// tests/data/tokenizer/golden.jsonl.gz: >= 5000 strings across scripts, entities, whitespace, ...
inline const std::vector<GoldenRow>& golden_corpus() {
  static const std::vector<GoldenRow> rows = load_corpus("tokenizer/golden.jsonl.gz");
  return rows;
}

// tests/data/tokenizer/coverage.jsonl.gz: every Unicode 14.0 code point, 32 per string (no clean text).
inline const std::vector<GoldenRow>& coverage_corpus() {
  static const std::vector<GoldenRow> rows = load_corpus("tokenizer/coverage.jsonl.gz");
  return rows;
}

inline std::string ids_to_string(const std::vector<int32_t>& ids, size_t max = 40) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size() && i < max; ++i) {
    if (i) s += ' ';
    s += std::to_string(ids[i]);
  }
  if (ids.size() > max) s += " ... (" + std::to_string(ids.size()) + ")";
  return s + "]";
}

// Escapes a UTF-8 string for printing: non-printable ASCII as \xNN.
inline std::string printable(const std::string& s, size_t max = 160) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

}  // namespace cuclip_test
