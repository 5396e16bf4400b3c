// Fuzzer: the CLIP tokenizer on arbitrary bytes, with the bundled vocab, in both cleaning modes
// (open_clip's ftfy + html path and the HF fast normalizer). The first byte picks the mode and a
// context length. Oracles: a refusal is only ever CUCLIP_ERR_INVALID_TEXT; the padded layout is
// [SOT] content [EOT] pad...; its content equals the prefix of the whole-text encode() (the
// bounded long-input rule must not change the result).
#include <algorithm>

#include "cuclip/tokenizer.hpp"
#include "fuzz_common.hpp"

using namespace cuclip;

namespace {

std::unique_ptr<tok::Tokenizer> make(tok::CleanMode mode) {
  std::string text;
  tok::TokenizerSpec spec;
  std::unique_ptr<tok::Tokenizer> t;
  if (!tok::load_bundled_clip_bpe(cuclip_fuzz::bundled_bpe_path(), &text).ok() || !tok::spec_from_clip_bpe(text, &spec).ok()) std::abort();
  spec.clean = mode;
  if (!tok::Tokenizer::create(spec, &t).ok()) std::abort();
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::unique_ptr<tok::Tokenizer> openclip = make(tok::CleanMode::OpenClip), hf = make(tok::CleanMode::HfFast);
  if (size < 1) return 0;
  const tok::Tokenizer& t = (data[0] & 1) ? *hf : *openclip;
  const int L = 2 + (data[0] >> 1) % 80;  // 2..81: covers "no room for content" and the usual 77
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const tok::TokenizerSpec& spec = t.spec();

  std::vector<int32_t> padded((size_t)L);
  Status ps = t.encode_padded(text, L, padded.data());
  cuclip_fuzz::check_refusal(ps);
  std::vector<int32_t> all;
  Status es = t.encode(text, &all);
  cuclip_fuzz::check_refusal(es);
  FUZZ_CHECK(ps.code == es.code);  // both validate UTF-8 the same way
  (void)t.clean(text);
  if (!ps.ok()) {
    FUZZ_CHECK(ps.code == CUCLIP_ERR_INVALID_TEXT);
    return 0;
  }
  FUZZ_CHECK(padded[0] == spec.sot_id);
  const size_t k = std::min(all.size(), (size_t)L - 2);
  for (size_t i = 0; i < k; ++i) FUZZ_CHECK(padded[1 + i] == all[i]);
  FUZZ_CHECK(padded[1 + k] == spec.eot_id);
  for (size_t i = 2 + k; i < (size_t)L; ++i) FUZZ_CHECK(padded[i] == spec.pad_id);
  for (int32_t id : all) FUZZ_CHECK(id >= 0 && id < (int32_t)spec.vocab.size());
  return 0;
}
