// Fuzzer: the CLI's JSON-lines text input (`cuclip embed --texts FILE.jsonl`, `cuclip tokenize
// --jsonl`): the input is written as a .jsonl file, read by the CLI's own reader (engine/cli/
// inputs.cpp), and the texts are tokenized as the CLI's commands do, one by one (encode_padded, as
// cuclip_tokenize) and as a batch (encode_batch, as cuclip_encode_texts' per-item tokenization).
// Oracles: bad lines are reported one by one with FILE:LINE and keep their slot; a text fails only
// as invalid UTF-8; the batch gives every item exactly its single result, pad rows for failures.
#include <cstring>

#include "cuclip/tokenizer.hpp"
#include "fuzz_common.hpp"
#include "inputs.hpp"

using namespace cuclip;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::unique_ptr<tok::Tokenizer> tokenizer = [] {
    std::string text;
    tok::TokenizerSpec spec;
    std::unique_ptr<tok::Tokenizer> t;
    if (!tok::load_bundled_clip_bpe(cuclip_fuzz::bundled_bpe_path(), &text).ok() || !tok::spec_from_clip_bpe(text, &spec).ok() ||
        !tok::Tokenizer::create(spec, &t).ok())
      std::abort();
    return t;
  }();
  const std::string path = cuclip_fuzz::scratch_dir() + "/texts.jsonl";
  cuclip_fuzz::write_file(path, std::string_view(reinterpret_cast<const char*>(data), size));
  std::vector<std::string> bad;
  std::vector<size_t> bad_index;
  const std::vector<std::string> texts = cli::read_texts(path, &bad, &bad_index);
  FUZZ_CHECK(bad.size() == bad_index.size());
  for (size_t i = 0; i < bad.size(); ++i) {
    FUZZ_CHECK(bad_index[i] < texts.size());
    FUZZ_CHECK(texts[bad_index[i]].empty());
    FUZZ_CHECK(bad[i].rfind(path + ":", 0) == 0);
  }
  constexpr int L = 77;
  const size_t n = std::min<size_t>(texts.size(), 16);  // bounds one exec; the reader saw every line
  std::vector<int32_t> single(n * L), batch(n * L);
  std::vector<Status> single_st(n), batch_st(n);
  std::vector<std::string_view> views;
  for (size_t i = 0; i < n; ++i) {
    single_st[i] = tokenizer->encode_padded(texts[i], L, single.data() + i * L);
    cuclip_fuzz::check_refusal(single_st[i]);
    FUZZ_CHECK(single_st[i].ok() || single_st[i].code == CUCLIP_ERR_INVALID_TEXT);
    if (!single_st[i].ok()) std::fill(single.begin() + (ptrdiff_t)(i * L), single.begin() + (ptrdiff_t)((i + 1) * L), tokenizer->spec().pad_id);
    views.push_back(texts[i]);
  }
  tok::encode_batch(*tokenizer, views, L, batch.data(), batch_st.data(), 2);
  for (size_t i = 0; i < n; ++i) FUZZ_CHECK(batch_st[i].code == single_st[i].code);
  FUZZ_CHECK(single == batch);
  return 0;
}
