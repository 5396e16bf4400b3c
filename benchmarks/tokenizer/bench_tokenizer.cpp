// Tokenizer throughput on one core: tokens/s of Tokenizer::encode and texts/s of encode_padded
// (T = 77) for both clean modes, on three inputs:
//   golden    every string of tests/data/tokenizer/golden.jsonl.gz (all scripts, entities, ...)
//   captions  the corpus's short English captions
//   long      the corpus's long texts (20-120 captions each, hundreds of tokens)
// Each measurement: one warm-up pass (fills the BPE cache, as in steady-state use), then the
// median of 5 timed passes, timed in thread CPU time so that other load on a shared machine does
// not count (the Python side uses process CPU time likewise). Prints one line per configuration and a final JSON line that
// benchmarks/tokenizer/bench_tokenizer.py reads to compute ratios against open_clip and HF.
//
//   bench_tokenizer [path/to/golden.jsonl.gz]
#include <zlib.h>

#include <algorithm>
#include <ctime>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cuclip/tokenizer.hpp"

namespace {

struct Corpus {
  std::string name;
  std::vector<std::string> texts;
};

bool read_golden(const std::string& path, Corpus* golden, Corpus* captions, Corpus* long_texts) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) return false;
  std::string data;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) data.append(buf, static_cast<size_t>(n));
  gzclose(f);
  size_t pos = 0;
  while (pos < data.size()) {
    size_t nl = data.find('\n', pos);
    if (nl == std::string::npos) nl = data.size();
    if (nl > pos) {
      auto j = nlohmann::json::parse(data.begin() + pos, data.begin() + nl);
      const std::string cat = j["cat"], text = j["text"];
      golden->texts.push_back(text);
      if (cat == "caption") captions->texts.push_back(text);
      if (cat == "long") long_texts->texts.push_back(text);
    }
    pos = nl + 1;
  }
  return true;
}

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

template <typename F>
double median_seconds(F&& run) {
  run();  // warm-up
  std::vector<double> t;
  for (int rep = 0; rep < 5; ++rep) {
    const double t0 = thread_cpu_seconds();
    run();
    t.push_back(thread_cpu_seconds() - t0);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

bool make_tokenizer(cuclip::tok::CleanMode mode, std::unique_ptr<cuclip::tok::Tokenizer>* out) {
  std::string bpe;
  cuclip::tok::TokenizerSpec spec;
  cuclip::Status s = cuclip::tok::load_bundled_clip_bpe("", &bpe);
  if (s.ok()) s = cuclip::tok::spec_from_clip_bpe(bpe, &spec);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.message.c_str());
    return false;
  }
  if (mode == cuclip::tok::CleanMode::HfFast) {  // the HF vocabulary names the specials differently
    spec.vocab[spec.sot_id] = "<|startoftext|>";
    spec.vocab[spec.eot_id] = "<|endoftext|>";
    spec.pad_id = spec.eot_id;
  }
  spec.clean = mode;
  s = cuclip::tok::Tokenizer::create(spec, out);
  if (!s.ok()) std::fprintf(stderr, "%s\n", s.message.c_str());
  return s.ok();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : std::string(CUCLIP_TEST_DATA_DIR) + "/tokenizer/golden.jsonl.gz";
  Corpus golden{"golden", {}}, captions{"captions", {}}, long_texts{"long", {}};
  if (!read_golden(path, &golden, &captions, &long_texts)) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    return 1;
  }
  nlohmann::json results = nlohmann::json::object();
  for (auto mode : {cuclip::tok::CleanMode::OpenClip, cuclip::tok::CleanMode::HfFast}) {
    const char* mode_name = mode == cuclip::tok::CleanMode::OpenClip ? "openclip" : "hf_fast";
    std::unique_ptr<cuclip::tok::Tokenizer> tok;
    if (!make_tokenizer(mode, &tok)) return 1;
    for (const Corpus* c : {&golden, &captions, &long_texts}) {
      size_t tokens = 0;
      std::vector<int32_t> ids;
      for (const auto& t : c->texts) {
        if (!tok->encode(t, &ids).ok()) return 1;
        tokens += ids.size();
      }
      const double s_encode = median_seconds([&] {
        for (const auto& t : c->texts) (void)tok->encode(t, &ids);
      });
      std::vector<int32_t> row(77);
      const double s_padded = median_seconds([&] {
        for (const auto& t : c->texts) (void)tok->encode_padded(t, 77, row.data());
      });
      const double tok_per_s = static_cast<double>(tokens) / s_encode;
      const double texts_per_s = static_cast<double>(c->texts.size()) / s_padded;
      std::printf("%-8s %-9s %5zu texts %8zu tokens | encode %10.0f tokens/s | encode_padded(77) %9.0f texts/s\n",
                  mode_name, c->name.c_str(), c->texts.size(), tokens, tok_per_s, texts_per_s);
      results[mode_name][c->name] = {{"texts", c->texts.size()}, {"tokens", tokens}, {"encode_s", s_encode},
                                     {"padded_s", s_padded}};
    }
  }
  std::printf("JSON %s\n", results.dump().c_str());
  return 0;
}
