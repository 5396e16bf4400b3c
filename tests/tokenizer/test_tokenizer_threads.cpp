// Thread safety: many threads encoding the golden corpus at once (sharing one Tokenizer and its BPE
// cache) must give exactly the sequential results, through encode_batch and through raw threads.
#include <thread>

#include "golden_corpus.hpp"
#include "test_tokenizers.hpp"

using namespace cuclip_test;

namespace {

std::vector<int32_t> sequential_padded(const cuclip::tok::Tokenizer& tok, const std::vector<std::string_view>& texts,
                                       size_t T) {
  std::vector<int32_t> out(texts.size() * T, -1);
  for (size_t i = 0; i < texts.size(); ++i) REQUIRE(tok.encode_padded(texts[i], static_cast<int>(T), out.data() + i * T).ok());
  return out;
}

}  // namespace

TEST_CASE("encode_batch_on_many_threads_equals_sequential_encoding", "[tokenizer]") {
  std::vector<std::string_view> texts;
  for (const auto& row : golden_corpus()) texts.push_back(row.text);
  texts.push_back("bad \xff utf-8");
  for (const cuclip::tok::Tokenizer* tok : {&openclip_tokenizer(), &hf_tokenizer()}) {
    // Encode the sequential reference on a fresh tokenizer state? The cache only memoizes a pure
    // function, so order and sharing cannot change results; the comparison checks exactly that.
    std::vector<std::string_view> good(texts.begin(), texts.end() - 1);
    const std::vector<int32_t> want = sequential_padded(*tok, good, 77);
    for (int threads : {0, 3, 8}) {
      std::vector<int32_t> got(texts.size() * 77, -5);
      std::vector<cuclip::Status> st(texts.size());
      cuclip::tok::encode_batch(*tok, texts, 0, got.data(), st.data(), threads);
      for (size_t i = 0; i + 1 < texts.size(); ++i) REQUIRE(st[i].ok());
      CHECK(st.back().code == CUCLIP_ERR_INVALID_TEXT);
      CHECK(std::equal(want.begin(), want.end(), got.begin()));
      const int32_t pad = tok->spec().pad_id;
      CHECK(std::all_of(got.end() - 77, got.end(), [pad](int32_t v) { return v == pad; }));
    }
  }
}

TEST_CASE("raw_threads_encoding_concurrently_equal_sequential_results", "[tokenizer]") {
  const auto& rows = golden_corpus();
  const cuclip::tok::Tokenizer& tok = openclip_tokenizer();
  std::vector<std::vector<int32_t>> want(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) REQUIRE(tok.encode(rows[i].text, &want[i]).ok());
  constexpr int kThreads = 8;
  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<int32_t> ids;
      // Each thread walks the corpus from a different offset so that they contend on different words.
      for (size_t k = 0; k < rows.size(); ++k) {
        const size_t i = (k + t * rows.size() / kThreads) % rows.size();
        if (!tok.encode(rows[i].text, &ids).ok() || ids != want[i]) ++mismatches[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) CHECK(mismatches[t] == 0);
}
