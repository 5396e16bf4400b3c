// Golden corpus: every string's ids (and cleaned text) must equal open_clip 3.3.0's SimpleTokenizer
// and, in HfFast mode, transformers' fast CLIPTokenizer. The only strings allowed to differ are the
// documented classes (flags in the corpus): ftfy's heuristic mojibake repair, which cuclip leaves
// out, and code points newer than the Unicode version of our ICU.
#include <cstdio>

#include "golden_corpus.hpp"
#include "test_tokenizers.hpp"

using namespace cuclip_test;

namespace {

struct Tally {
  size_t checked = 0, mismatched = 0, excused = 0, excused_matching = 0;
  std::vector<std::string> first_failures;
};

// The padded layout both libraries produce (verified against them by gen_tokenizer.py).
std::vector<int32_t> padded(const std::vector<int32_t>& ids, size_t T, int32_t pad) {
  std::vector<int32_t> out{49406};
  for (size_t i = 0; i < ids.size() && out.size() + 1 < T; ++i) out.push_back(ids[i]);
  out.push_back(49407);
  out.resize(T, pad);
  return out;
}

void check_mode(const std::vector<GoldenRow>& corpus, const cuclip::tok::Tokenizer& tok, bool hf, Tally* t) {
  constexpr size_t T = 77;
  for (const GoldenRow& row : corpus) {
    const std::vector<int32_t>& want = hf ? row.hf : row.oc;
    const bool check_clean = !(hf ? row.hf_norm : row.oc_clean).empty() || row.text.empty();
    const std::string& want_clean = hf ? row.hf_norm : row.oc_clean;
    const bool excused = row.has_flag(hf ? "hf_newer_unicode" : "oc_newer_unicode") || (!hf && row.has_flag("mojibake"));
    std::vector<int32_t> got;
    cuclip::Status s = tok.encode(row.text, &got);
    std::vector<int32_t> got_pad(T, -1);
    cuclip::Status s2 = tok.encode_padded(row.text, 0, got_pad.data());
    const std::string got_clean = check_clean ? tok.clean(row.text) : want_clean;
    const bool ok = s.ok() && s2.ok() && got == want && got_pad == padded(want, T, hf ? 49407 : 0) &&
                    got_clean == want_clean;
    ++t->checked;
    if (excused) {
      ++t->excused;
      if (ok) ++t->excused_matching;
      continue;
    }
    if (ok) continue;
    ++t->mismatched;
    if (t->first_failures.size() < 12) {
      t->first_failures.push_back("[" + row.category + "] \"" + printable(row.text) + "\"\n  status " + s.message +
                                  s2.message + "\n  want " + ids_to_string(want) + "\n  got  " + ids_to_string(got) +
                                  "\n  want clean \"" + printable(want_clean) + "\"\n  got clean  \"" +
                                  printable(got_clean) + "\"\n  padded ok " +
                                  std::to_string(got_pad == padded(want, T, hf ? 49407 : 0)));
    }
  }
}

void report(const char* mode, const Tally& t) {
  std::printf("%s: %zu strings, %zu mismatches outside the documented classes; documented classes: %zu strings, "
              "%zu of them match anyway\n",
              mode, t.checked, t.mismatched, t.excused, t.excused_matching);
  for (const auto& f : t.first_failures) std::printf("MISMATCH %s\n", f.c_str());
}

}  // namespace

TEST_CASE("golden_corpus_is_large_and_covers_every_category", "[tokenizer]") {
  const auto& rows = golden_corpus();
  REQUIRE(rows.size() >= 5000);
  size_t mojibake = 0;
  for (const auto& r : rows) mojibake += r.has_flag("mojibake");
  std::printf("golden corpus: %zu strings, %zu hit ftfy's fix_encoding (mojibake)\n", rows.size(), mojibake);
}

TEST_CASE("openclip_mode_matches_open_clip_simple_tokenizer_on_golden_corpus", "[tokenizer]") {
  Tally t;
  check_mode(golden_corpus(), openclip_tokenizer(), false, &t);
  report("open_clip", t);
  REQUIRE(t.mismatched == 0);
}

TEST_CASE("hf_fast_mode_matches_transformers_fast_clip_tokenizer_on_golden_corpus", "[tokenizer]") {
  Tally t;
  check_mode(golden_corpus(), hf_tokenizer(), true, &t);
  report("hf_fast", t);
  REQUIRE(t.mismatched == 0);
}

TEST_CASE("every_unicode_14_code_point_tokenizes_like_both_references", "[tokenizer]") {
  Tally oc, hf;
  check_mode(coverage_corpus(), openclip_tokenizer(), false, &oc);
  check_mode(coverage_corpus(), hf_tokenizer(), true, &hf);
  report("open_clip (coverage)", oc);
  report("hf_fast (coverage)", hf);
  REQUIRE(coverage_corpus().size() > 8000);
  REQUIRE(oc.mismatched == 0);
  REQUIRE(hf.mismatched == 0);
}
