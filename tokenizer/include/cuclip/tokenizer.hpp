// cuclip's CLIP text tokenizer: byte-level BPE that reproduces, token for token, open_clip 3.3.0's
// SimpleTokenizer (ftfy + html.unescape + whitespace + lower cleaning) or, in HfFast mode, the
// transformers/tokenizers fast CLIPTokenizer (NFC + whitespace + lowercase). See docs/tokenizer.md.
//
//   std::string bpe;                                  // gunzipped bpe_simple_vocab_16e6.txt
//   CUCLIP_TRY(cuclip::tok::load_bundled_clip_bpe("", &bpe));
//   cuclip::tok::TokenizerSpec spec;
//   CUCLIP_TRY(cuclip::tok::spec_from_clip_bpe(bpe, &spec));
//   std::unique_ptr<cuclip::tok::Tokenizer> tok;
//   CUCLIP_TRY(cuclip::tok::Tokenizer::create(spec, &tok));
//   int32_t ids[77];
//   CUCLIP_TRY(tok->encode_padded("a photo of a cat", 0, ids));   // 0: the spec's context length
//
// Threading: a Tokenizer is immutable after create(); every const method may be called from any
// number of threads at once (the BPE cache is internally sharded and locked).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.hpp"

namespace cuclip::tok {

// How raw text is cleaned before the split pattern runs.
enum class CleanMode {
  OpenClip,  // open_clip 'lower': ftfy.fix_text, html.unescape x2, collapse whitespace, str.lower()
  HfFast,    // tokenizers' CLIP normalizer: special tokens cut out first, then NFC, \s+ -> ' ', lowercase
};

struct TokenizerSpec {
  std::vector<std::string> vocab;   // id -> token in byte-to-unicode form (UTF-8), e.g. "a</w>"; 49408 for CLIP
  std::vector<std::string> merges;  // "a b" pairs in rank order (48894 for CLIP)
  int32_t sot_id = 49406, eot_id = 49407, pad_id = 0;
  int context_length = 77;
  CleanMode clean = CleanMode::OpenClip;
};

// Builds the standard CLIP vocab from the text of bpe_simple_vocab_16e6.txt (already gunzipped):
// 256 byte symbols, the same with "</w>", the first 48894 merges, then open_clip 3.3.0's special
// tokens "<start_of_text>" (49406) and "<end_of_text>" (49407). Users who type those strings get the
// special ids, as in open_clip (the original OpenAI names "<|startoftext|>" are plain text there).
Status spec_from_clip_bpe(std::string_view bpe_text, TokenizerSpec* out);
// From Hugging Face files: vocab.json + merges.txt contents, or tokenizer.json content. The result
// uses CleanMode::HfFast, sot/eot from "<|startoftext|>"/"<|endoftext|>" and pad_id = eot_id (what
// transformers' CLIP configs set); the caller may override pad_id from tokenizer_config.json.
Status spec_from_hf_vocab_merges(std::string_view vocab_json, std::string_view merges_txt, TokenizerSpec* out);
Status spec_from_hf_tokenizer_json(std::string_view tokenizer_json, TokenizerSpec* out);

// Reads and gunzips bpe_simple_vocab_16e6.txt.gz. Empty gz_path: default_clip_bpe_path().
Status load_bundled_clip_bpe(const std::string& gz_path, std::string* text);
// The installed copy ($prefix/share/cuclip/bpe_simple_vocab_16e6.txt.gz) when it exists, else the
// copy in the source tree (tokenizer/data/).
std::string default_clip_bpe_path();

class Tokenizer {
 public:
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Validates the spec (sizes, duplicate tokens, merges whose parts or result are not in the vocab,
  // missing byte symbols, ids out of range) and builds the lookup tables.
  static Status create(const TokenizerSpec& spec, std::unique_ptr<Tokenizer>* out);

  // Content ids only (no SOT/EOT), the whole text. CUCLIP_ERR_INVALID_TEXT for invalid UTF-8 (the
  // message gives the byte offset).
  Status encode(std::string_view utf8, std::vector<int32_t>* ids) const;
  // [SOT] + ids + [EOT] truncated to context_length (the last slot keeps EOT) and padded with
  // pad_id; context_length <= 0 means the spec's. out must hold context_length values. Only the
  // first context_length - 2 content tokens are computed (see "long inputs" in docs/tokenizer.md).
  Status encode_padded(std::string_view utf8, int context_length, int32_t* out) const;
  // The cleaning step alone (UTF-8 in, UTF-8 out; invalid UTF-8 gives an empty string). In HfFast
  // mode this is the normalizer applied to the whole text (special tokens are not cut out first).
  // Out of memory also gives an empty string.
  std::string clean(std::string_view utf8) const;

  const TokenizerSpec& spec() const;

  struct Impl;

 private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  static Status create_impl(const TokenizerSpec& spec, std::unique_ptr<Tokenizer>* out);
  Status encode_impl(std::string_view utf8, std::vector<int32_t>* ids) const;
  Status encode_padded_impl(std::string_view utf8, size_t T, int32_t* out) const;
  std::unique_ptr<Impl> impl_;
};

// Tokenizes texts[i] into out[i * context_length ...] (context_length <= 0: the spec's) on
// n_threads threads (0 = hardware concurrency). statuses[i] receives each item's status; a failed
// item's row is filled with pad_id.
void encode_batch(const Tokenizer& tokenizer, const std::vector<std::string_view>& texts, int context_length,
                  int32_t* out, Status* statuses, int n_threads);

}  // namespace cuclip::tok
