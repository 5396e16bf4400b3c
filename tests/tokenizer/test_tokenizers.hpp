// The two tokenizers the tests use, built once: open_clip's (bundled BPE file) and the HF fast one
// (vocab.json + merges.txt made from the same BPE file the way tests/reference/gen_tokenizer.py
// makes them for transformers).
#pragma once
#include <memory>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "common/testing.hpp"
#include "cuclip/tokenizer.hpp"

namespace cuclip_test {

inline const std::string& clip_bpe_text() {
  static const std::string text = [] {
    std::string t;
    cuclip::Status s = cuclip::tok::load_bundled_clip_bpe("", &t);
    if (!s.ok()) throw std::runtime_error(s.message);
    return t;
  }();
  return text;
}

// vocab.json and merges.txt equivalent to openai/clip-vit-base-patch32's.
inline void hf_files_from_clip_bpe(std::string* vocab_json, std::string* merges_txt) {
  cuclip::tok::TokenizerSpec spec;
  cuclip::Status s = cuclip::tok::spec_from_clip_bpe(clip_bpe_text(), &spec);
  if (!s.ok()) throw std::runtime_error(s.message);
  // Written by hand: nlohmann's ordered_json inserts in O(n), too slow for 49408 keys.
  std::string v(1, '{');
  for (size_t i = 0; i < spec.vocab.size(); ++i) {
    const std::string token = i == spec.vocab.size() - 2 ? "<|startoftext|>"
                              : i == spec.vocab.size() - 1 ? "<|endoftext|>" : spec.vocab[i];
    if (i) v += ',';
    v += nlohmann::json(token).dump();
    v += ':';
    v += std::to_string(i);
  }
  v += '}';
  *vocab_json = std::move(v);
  std::string m("#version: 0.2\n");
  for (const auto& merge : spec.merges) {
    m += merge;
    m += '\n';
  }
  *merges_txt = std::move(m);
}

inline const cuclip::tok::Tokenizer& openclip_tokenizer() {
  static const std::unique_ptr<cuclip::tok::Tokenizer> tok = [] {
    cuclip::tok::TokenizerSpec spec;
    cuclip::Status s = cuclip::tok::spec_from_clip_bpe(clip_bpe_text(), &spec);
    std::unique_ptr<cuclip::tok::Tokenizer> t;
    if (s.ok()) s = cuclip::tok::Tokenizer::create(spec, &t);
    if (!s.ok()) throw std::runtime_error(s.message);
    return t;
  }();
  return *tok;
}

inline const cuclip::tok::Tokenizer& hf_tokenizer() {
  static const std::unique_ptr<cuclip::tok::Tokenizer> tok = [] {
    std::string vocab, merges;
    hf_files_from_clip_bpe(&vocab, &merges);
    cuclip::tok::TokenizerSpec spec;
    cuclip::Status s = cuclip::tok::spec_from_hf_vocab_merges(vocab, merges, &spec);
    std::unique_ptr<cuclip::tok::Tokenizer> t;
    if (s.ok()) s = cuclip::tok::Tokenizer::create(spec, &t);
    if (!s.ok()) throw std::runtime_error(s.message);
    return t;
  }();
  return *tok;
}

}  // namespace cuclip_test
