// Focused tokenizer tests: HTML unescaping (Python's and ftfy's), cleaning (lowercase specials,
// whitespace, ftfy fixers), special tokens typed by users, truncation/padding, invalid UTF-8, spec
// validation, the BPE algorithm against a transcription of open_clip's loop, long inputs.
// Expected values come from the Python references (html.unescape, ftfy.fixes.unescape_html,
// open_clip's _clean_lower / SimpleTokenizer / tokenize, transformers' CLIPTokenizer), run once
// and pasted here.
#include <chrono>
#include <map>
#include <random>
#include <set>

#include "bpe.hpp"
#include "char_tables.hpp"
#include "golden_corpus.hpp"
#include "html_unescape.hpp"
#include "test_tokenizers.hpp"
#include "unicode.hpp"

using namespace cuclip_test;
using cuclip::tok::Tokenizer;
using cuclip::tok::TokenizerSpec;
using cuclip::tok::detail::U32String;

namespace {

struct Case {
  std::u32string in, want;
};

std::string utf8(std::u32string_view s) { return cuclip::tok::detail::to_utf8(s); }

std::vector<int32_t> encode_ok(const Tokenizer& tok, const std::string& text) {
  std::vector<int32_t> ids;
  cuclip::Status s = tok.encode(text, &ids);
  INFO(s.message);
  REQUIRE(s.ok());
  return ids;
}

std::vector<int32_t> padded_ok(const Tokenizer& tok, const std::string& text, int T) {
  std::vector<int32_t> out(static_cast<size_t>(T), -7);
  cuclip::Status s = tok.encode_padded(text, T, out.data());
  INFO(s.message);
  REQUIRE(s.ok());
  return out;
}

TokenizerSpec clip_spec() {
  TokenizerSpec spec;
  REQUIRE(cuclip::tok::spec_from_clip_bpe(clip_bpe_text(), &spec).ok());
  return spec;
}

// Tokenizer::create must fail with `code` and a message containing `needle`.
void require_rejected(const TokenizerSpec& spec, cuclip_status code, const std::string& needle) {
  std::unique_ptr<Tokenizer> tok;
  cuclip::Status s = Tokenizer::create(spec, &tok);
  INFO(s.message);
  REQUIRE(s.code == code);
  REQUIRE(s.message.find(needle) != std::string::npos);
  REQUIRE(tok == nullptr);
}

}  // namespace

TEST_CASE("python_html_unescape_matches_python_on_every_reference_kind", "[tokenizer]") {
  // Outputs of Python 3.11 html.unescape.
  const std::vector<Case> cases = {
      {U"&amp;", U"&"}, {U"&amp", U"&"}, {U"&AMP;", U"&"}, {U"&copy2024", U"\u00a92024"}, {U"&not=", U"\u00ac="},
      {U"&notin;", U"\u2209"}, {U"&notit;", U"\u00acit;"}, {U"&#65;", U"A"}, {U"&#65", U"A"}, {U"&#x41;", U"A"},
      {U"&#X41x", U"Ax"}, {U"&#x;", U"&#x;"}, {U"&#;", U"&#;"}, {U"&#0;", U"\ufffd"}, {U"&#13;", U"\r"},
      {U"&#128;", U"\u20ac"}, {U"&#x9d;", U"\u009d"}, {U"&#x81;", U"\u0081"}, {U"&#xD800;", U"\ufffd"},
      {U"&#x110000;", U"\ufffd"}, {U"&#99999999999999999999;", U"\ufffd"}, {U"&#1;", U""}, {U"&#x7f;", U""},
      {U"&#xfdd0;", U""}, {U"&#x1FFFF;", U""}, {U"&#59;", U";"}, {U"&#12ab;", U"\u000cab;"},
      {U"&EACUTE;", U"&EACUTE;"}, {U"&SZLIG;", U"&SZLIG;"}, {U"&nTILDE;", U"&nTILDE;"},
      {U"&CounterClockwiseContourIntegral;", U"\u2233"}, {U"&ThisIsNotAnEntity;", U"&ThisIsNotAnEntity;"},
      {U"a & b", U"a & b"}, {U"&&amp;", U"&&"}, {U"&ampamp;", U"&amp;"}, {U"&lt&gt", U"<>"},
      {U"&frac12;3", U"\u00bd3"}, {U"&frac123", U"\u00bd3"}, {U"&#x1F600", U"\U0001f600"}, {U"&AElig", U"\u00c6"},
      {U"&Aacute", U"\u00c1"}, {U"&aacutex", U"\u00e1x"}, {U"&#9;&#10;", U"\t\n"},
  };
  for (const Case& c : cases) {
    U32String got;
    cuclip::tok::detail::python_html_unescape(c.in, &got);
    INFO(utf8(c.in) << " -> " << utf8(got) << " (want " << utf8(c.want) << ")");
    CHECK(got == c.want);
  }
}

TEST_CASE("ftfy_unescape_html_matches_ftfy_including_all_caps_names_and_kept_semicolons", "[tokenizer]") {
  // Outputs of ftfy 6.3.1 ftfy.fixes.unescape_html.
  const std::vector<Case> cases = {
      {U"&amp;", U"&"}, {U"&amp", U"&amp"}, {U"&AMP;", U"&"}, {U"&copy2024", U"&copy2024"}, {U"&not=", U"&not="},
      {U"&notin;", U"\u2209"}, {U"&notit;", U"&notit;"}, {U"&#65;", U"A"}, {U"&#65", U"&#65"}, {U"&#x41;", U"A"},
      {U"&#X41x", U"&#X41x"}, {U"&#x;", U"&#x;"}, {U"&#;", U"&#;"}, {U"&#0;", U"\ufffd"}, {U"&#13;", U"\r"},
      {U"&#128;", U"\u20ac"}, {U"&#x9d;", U"\u009d"}, {U"&#x81;", U"\u0081"}, {U"&#xD800;", U"\ufffd"},
      {U"&#x110000;", U"\ufffd"}, {U"&#99999999999999999999;", U"\ufffd"}, {U"&#1;", U""}, {U"&#x7f;", U""},
      {U"&#xfdd0;", U""}, {U"&#x1FFFF;", U""}, {U"&#59;", U"&#59;"}, {U"&#12ab;", U"&#12ab;"},
      {U"&EACUTE;", U"\u00c9"}, {U"&SZLIG;", U"SS"}, {U"&nTILDE;", U"&nTILDE;"},
      {U"&CounterClockwiseContourIntegral;", U"&CounterClockwiseContourIntegral;"},
      {U"&ThisIsNotAnEntity;", U"&ThisIsNotAnEntity;"}, {U"a & b", U"a & b"}, {U"&&amp;", U"&&"},
      {U"&ampamp;", U"&ampamp;"}, {U"&lt&gt", U"&lt&gt"}, {U"&frac12;3", U"\u00bd3"}, {U"&frac123", U"&frac123"},
      {U"&#x1F600", U"&#x1F600"}, {U"&AElig", U"&AElig"}, {U"&Aacute", U"&Aacute"}, {U"&aacutex", U"&aacutex"},
      {U"&#9;&#10;", U"\t\n"},
  };
  for (const Case& c : cases) {
    U32String got;
    cuclip::tok::detail::ftfy_unescape_html(c.in, &got);
    INFO(utf8(c.in) << " -> " << utf8(got) << " (want " << utf8(c.want) << ")");
    CHECK(got == c.want);
  }
}

TEST_CASE("openclip_clean_matches_open_clip_for_lowercase_specials_whitespace_and_ftfy_fixers", "[tokenizer]") {
  // Outputs of open_clip.tokenizer._clean_lower.
  const std::vector<Case> cases = {
      {U"\u0130stanbul", U"i\u0307stanbul"},  // full lowercase mapping of dotted capital I
      {U"\u039f\u0394\u039f\u03a3 \u039f\u0394\u039f\u03a3.", U"\u03bf\u03b4\u03bf\u03c2 \u03bf\u03b4\u03bf\u03c2."},
      {U"\u03a3\u0391\u03a3'\u03a3", U"\u03c3\u03b1\u03c3'\u03c2"},  // ' is case-ignorable: medial sigma
      {U"\u03a3", U"\u03c3"}, {U"A\u03a3\u0301", U"a\u03c2\u0301"},
      {U"\u01c5ungla \u01c8", U"d\u017eungla lj"}, {U"\ufb01ne \ufb02ow", U"fine flow"},
      {U"\uff26\uff35\uff2c\uff2c\u3000\uff57\uff49\uff44\uff54\uff48", U"full width"},
      {U"\u201cquoted\u201d \u2018single\u2019", U"\"quoted\" 'single'"},
      {U"a\u00a0b\u2003c\u3000d\u001c\u001de\u0085f", U"a b c de\u2026f"},
      {U"\u001b[31mred\u001b[0m", U"red"}, {U"bom\ufeffx\u200by", U"bomx\u200by"},
      {U"&amp;amp;amp;", U"&"},  // ftfy repeats until nothing changes
      {U"<b>&amp;</b>", U"<b>&</b>"}, {U"x &amp;\n<b>\n&amp;", U"x & <b> &"}, {U"&lt;b&gt;", U"<b>"},
      {U"cafe\u0301", U"caf\u00e9"}, {U"\r\nline\rbreak\u2028x", U"line break x"}, {U"  padded   ", U"padded"},
      {U"\u1e9e \u00df", U"\u00df \u00df"}, {U"\u0130\u0307", U"i\u0307\u0307"}, {U"\u01f0 \u0390", U"\u01f0 \u0390"},
      {U"K \u00c5 \u03a9", U"k \u00e5 \u03c9"}, {U"\u0080\u009f\u0085", U"\u20ac\u00ff\u2026"},
      {U"Stra\u00dfe", U"stra\u00dfe"},
  };
  for (const Case& c : cases) {
    const std::string got = openclip_tokenizer().clean(utf8(c.in));
    INFO(utf8(c.in) << " -> " << got << " (want " << utf8(c.want) << ")");
    CHECK(got == utf8(c.want));
  }
}

TEST_CASE("whitespace_predicates_equal_the_generated_reference_sets_for_every_code_point", "[tokenizer]") {
  namespace d = cuclip::tok::detail;
  size_t mismatches = 0;
  for (char32_t c = 0; c <= 0x10FFFF; ++c) {
    mismatches += d::is_python_space(c) != std::binary_search(d::kPythonSpaces, d::kPythonSpaces + d::kPythonSpacesCount, c);
    mismatches += d::is_regex_space(c) != std::binary_search(d::kRegexSpaces, d::kRegexSpaces + d::kRegexSpacesCount, c);
    mismatches += d::is_hf_space(c) != std::binary_search(d::kHfSpaces, d::kHfSpaces + d::kHfSpacesCount, c);
  }
  CHECK(mismatches == 0);
}

TEST_CASE("special_tokens_typed_by_users_follow_each_reference", "[tokenizer]") {
  // open_clip 3.3.0's specials are "<start_of_text>" / "<end_of_text>"; "<|endoftext|>" is plain text.
  CHECK(encode_ok(openclip_tokenizer(), "a <end_of_text> b <|endoftext|> <start_of_text>") ==
        std::vector<int32_t>{320, 49407, 321, 27, 347, 40786, 4160, 91, 285, 49406});
  // HF's added tokens are "<|startoftext|>" / "<|endoftext|>", matched before normalization.
  CHECK(encode_ok(hf_tokenizer(), "a <end_of_text> b <|endoftext|> <start_of_text> <|startoftext|>x") ==
        std::vector<int32_t>{320, 283, 806, 318, 539, 318, 4160, 285, 321, 49407, 283, 1572, 318, 539, 318, 4160, 285,
                             49406, 343});
}

TEST_CASE("encode_padded_truncates_keeping_eot_last_and_pads_with_zero_like_open_clip", "[tokenizer]") {
  // open_clip.tokenize([text], context_length=k) for k = 1..8.
  const std::map<int, std::vector<int32_t>> want = {
      {1, {49407}},
      {2, {49406, 49407}},
      {3, {49406, 320, 49407}},
      {4, {49406, 320, 49407, 49407}},
      {5, {49406, 320, 49407, 321, 49407}},
      {6, {49406, 320, 49407, 321, 27, 49407}},
      {7, {49406, 320, 49407, 321, 27, 347, 49407}},
      {8, {49406, 320, 49407, 321, 27, 347, 40786, 49407}},
  };
  for (const auto& [k, ids] : want) {
    INFO("context_length " << k);
    CHECK(padded_ok(openclip_tokenizer(), "a <end_of_text> b <|endoftext|> <start_of_text>", k) == ids);
  }
  std::vector<int32_t> cat = padded_ok(openclip_tokenizer(), "a photo of a cat", 77);
  std::vector<int32_t> cat_want{49406, 320, 1125, 539, 320, 2368, 49407};
  cat_want.resize(77, 0);
  CHECK(cat == cat_want);
}

TEST_CASE("encode_padded_uses_spec_context_length_and_hf_pad_id", "[tokenizer]") {
  // 0 means the spec's context length (77); the HF spec pads with <|endoftext|> like transformers.
  std::vector<int32_t> out(77, -7);
  REQUIRE(hf_tokenizer().encode_padded("a photo of a cat", 0, out.data()).ok());
  std::vector<int32_t> want{49406, 320, 1125, 539, 320, 2368, 49407};
  want.resize(77, 49407);
  CHECK(out == want);
}

TEST_CASE("invalid_utf8_is_rejected_with_its_byte_offset", "[tokenizer]") {
  const std::vector<std::pair<std::string, size_t>> bad = {
      {"\xff", 0},          {"ab\xc3", 2},          {"abc\xc0\xaf", 3},      {"x\xed\xa0\x80", 1},
      {"\xf4\x90\x80\x80", 0}, {"a\x80", 1},       {"ok \xe2\x82", 3},      {"\xc3\x28", 0},
  };
  for (const auto& [text, offset] : bad) {
    std::vector<int32_t> ids{1, 2};
    cuclip::Status s = openclip_tokenizer().encode(text, &ids);
    INFO(s.message);
    CHECK(s.code == CUCLIP_ERR_INVALID_TEXT);
    CHECK(s.message.find("byte offset " + std::to_string(offset)) != std::string::npos);
    CHECK(ids.empty());
    std::vector<int32_t> out(77, -7);
    cuclip::Status s2 = hf_tokenizer().encode_padded(text, 77, out.data());
    CHECK(s2.code == CUCLIP_ERR_INVALID_TEXT);
    CHECK(out == std::vector<int32_t>(77, 49407));  // pad_id, no garbage
  }
}

TEST_CASE("spec_validation_rejects_each_broken_rule", "[tokenizer]") {
  const TokenizerSpec good = clip_spec();
  REQUIRE(good.vocab.size() == 49408u);
  REQUIRE(good.merges.size() == 48894u);
  SECTION("empty vocab") {
    TokenizerSpec s = good;
    s.vocab.clear();
    require_rejected(s, CUCLIP_ERR_INVALID_MODEL, "vocab size 0");
  }
  SECTION("duplicate token") {
    TokenizerSpec s = good;
    s.vocab[1000] = s.vocab[999];
    require_rejected(s, CUCLIP_ERR_INVALID_MODEL, "duplicate token");
  }
  SECTION("merge part not in vocab") {
    TokenizerSpec s = good;
    s.merges[5] = "zzqq\xc3\xa9 x";
    require_rejected(s, CUCLIP_ERR_INVALID_MODEL, "is not in the vocab");
  }
  SECTION("merge result not in vocab") {
    TokenizerSpec s = good;
    s.merges.push_back("q z");
    require_rejected(s, CUCLIP_ERR_INVALID_MODEL, "\"qz\" is not in the vocab");
  }
  SECTION("malformed merge") {
    TokenizerSpec s = good;
    s.merges[0] = "inn";
    require_rejected(s, CUCLIP_ERR_INVALID_MODEL, "is not \"left right\"");
  }
  SECTION("duplicate merge") {
    TokenizerSpec s = good;
    s.merges.push_back(s.merges[3]);
    require_rejected(s, CUCLIP_ERR_INVALID_MODEL, "duplicate");
  }
  SECTION("missing byte symbol") {
    TokenizerSpec s = good;
    s.vocab[256 + 5] = "not-a-byte-symbol";  // the "</w>" form of the sixth byte symbol
    require_rejected(s, CUCLIP_ERR_INVALID_MODEL, "no symbol for byte");
  }
  SECTION("special ids out of range or equal") {
    TokenizerSpec s = good;
    s.sot_id = 49408;
    require_rejected(s, CUCLIP_ERR_INVALID_MODEL, "sot_id 49408");
    s = good;
    s.eot_id = -1;
    require_rejected(s, CUCLIP_ERR_INVALID_MODEL, "eot_id -1");
    s = good;
    s.pad_id = 50000;
    require_rejected(s, CUCLIP_ERR_INVALID_MODEL, "pad_id 50000");
    s = good;
    s.eot_id = s.sot_id;
    require_rejected(s, CUCLIP_ERR_INVALID_MODEL, "sot_id equals eot_id");
  }
  SECTION("context length") {
    TokenizerSpec s = good;
    s.context_length = 0;
    require_rejected(s, CUCLIP_ERR_INVALID_MODEL, "context_length 0");
  }
  SECTION("bpe file too short") {
    TokenizerSpec s;
    cuclip::Status st = cuclip::tok::spec_from_clip_bpe("#version: 0.2\ni n\nt h\n", &s);
    CHECK(st.code == CUCLIP_ERR_INVALID_MODEL);
    CHECK(st.message.find("merges, 48894 expected") != std::string::npos);
  }
}

TEST_CASE("hf_tokenizer_json_gives_the_same_spec_as_vocab_and_merges", "[tokenizer]") {
  std::string vocab_json, merges_txt;
  hf_files_from_clip_bpe(&vocab_json, &merges_txt);
  TokenizerSpec from_files, from_json;
  REQUIRE(cuclip::tok::spec_from_hf_vocab_merges(vocab_json, merges_txt, &from_files).ok());
  // The layout tokenizers 0.23 writes: merges as [left, right] pairs, specials also in added_tokens.
  nlohmann::json j;
  j["version"] = "1.0";
  j["added_tokens"] = nlohmann::json::array(
      {{{"id", 49406}, {"content", "<|startoftext|>"}, {"special", true}, {"normalized", false}},
       {{"id", 49407}, {"content", "<|endoftext|>"}, {"special", true}, {"normalized", false}}});
  j["model"]["type"] = "BPE";
  j["model"]["end_of_word_suffix"] = "</w>";
  j["model"]["vocab"] = nlohmann::json::parse(vocab_json);
  nlohmann::json merges = nlohmann::json::array();
  for (const auto& m : from_files.merges) merges.push_back({m.substr(0, m.find(' ')), m.substr(m.find(' ') + 1)});
  j["model"]["merges"] = merges;
  REQUIRE(cuclip::tok::spec_from_hf_tokenizer_json(j.dump(), &from_json).ok());
  CHECK(from_json.vocab == from_files.vocab);
  CHECK(from_json.merges == from_files.merges);
  CHECK(from_json.sot_id == 49406);
  CHECK(from_json.eot_id == 49407);
  CHECK(from_json.pad_id == 49407);
  CHECK(from_json.clean == cuclip::tok::CleanMode::HfFast);
  // A WordPiece tokenizer.json is not a CLIP one.
  j["model"]["type"] = "WordPiece";
  CHECK(cuclip::tok::spec_from_hf_tokenizer_json(j.dump(), &from_json).code == CUCLIP_ERR_UNSUPPORTED);
  CHECK(cuclip::tok::spec_from_hf_tokenizer_json("{not json", &from_json).code == CUCLIP_ERR_INVALID_MODEL);
}

TEST_CASE("bundled_bpe_loads_from_the_default_path_and_missing_files_fail_cleanly", "[tokenizer]") {
  CHECK(clip_bpe_text().rfind("\"bpe_simple_vocab_16e6.txt#version: 0.2\n", 0) == 0);
  std::string text;
  cuclip::Status s = cuclip::tok::load_bundled_clip_bpe("/nonexistent/bpe.txt.gz", &text);
  CHECK(s.code == CUCLIP_ERR_IO);
}

namespace {

// open_clip's SimpleTokenizer.bpe() transcribed literally (rounds of "merge every occurrence of the
// lowest-ranked pair"), on strings, as the reference for the O(n log n) implementation.
std::vector<std::string> reference_bpe(const std::vector<std::string>& symbols,
                                       const std::map<std::pair<std::string, std::string>, int>& ranks) {
  std::vector<std::string> word = symbols;
  while (word.size() > 1) {
    int best = -1;
    std::pair<std::string, std::string> bigram;
    for (size_t i = 0; i + 1 < word.size(); ++i) {
      auto it = ranks.find({word[i], word[i + 1]});
      if (it != ranks.end() && (best < 0 || it->second < best)) {
        best = it->second;
        bigram = it->first;
      }
    }
    if (best < 0) break;
    std::vector<std::string> next;
    for (size_t i = 0; i < word.size();) {
      if (i + 1 < word.size() && word[i] == bigram.first && word[i + 1] == bigram.second) {
        next.push_back(word[i] + word[i + 1]);
        i += 2;
      } else {
        next.push_back(word[i++]);
      }
    }
    word = next;
  }
  return word;
}

}  // namespace

TEST_CASE("bpe_equals_open_clips_merge_loop_on_random_and_repetitive_words", "[tokenizer]") {
  const TokenizerSpec spec = clip_spec();
  cuclip::tok::detail::BpeModel bpe;
  REQUIRE(bpe.build(spec.vocab, spec.merges).ok());
  std::map<std::pair<std::string, std::string>, int> ranks;
  for (size_t r = 0; r < spec.merges.size(); ++r) {
    const std::string& m = spec.merges[r];
    ranks[{m.substr(0, m.find(' ')), m.substr(m.find(' ') + 1)}] = static_cast<int>(r);
  }
  std::map<std::string, int32_t> id_of;
  for (size_t i = 0; i < spec.vocab.size(); ++i) id_of[spec.vocab[i]] = static_cast<int32_t>(i);
  std::mt19937 rng(12345);  // fresh words every run would be nicer, but failures must be reproducible
  const std::string alphabet = "aaabbeeinnorsstt";
  std::vector<std::string> words = {"aaaaaaaaaaaaaaaaaaaaaaa", "abababababababab", "mississippi", "\xc3\xa9\xc3\xa9\xc3\xa9"};
  for (int i = 0; i < 400; ++i) {
    std::string w;
    const int len = 1 + static_cast<int>(rng() % 80);  // both the short (<= 32 bytes) and the heap path
    for (int k = 0; k < len; ++k) w.push_back(i % 2 ? alphabet[rng() % alphabet.size()] : static_cast<char>(rng() % 256));
    words.push_back(w);
  }
  const auto& b2u = cuclip::tok::detail::byte_to_unicode();
  for (const std::string& w : words) {
    std::vector<std::string> symbols;
    for (unsigned char c : w) {
      std::string s;
      cuclip::tok::detail::append_utf8(b2u[c], &s);
      symbols.push_back(s);
    }
    symbols.back() += "</w>";
    std::vector<int32_t> want;
    for (const auto& sym : reference_bpe(symbols, ranks)) want.push_back(id_of.at(sym));
    std::vector<int32_t> got;
    bpe.encode_word_uncached(w, &got);
    INFO("word bytes: " << printable(w));
    REQUIRE(got == want);
  }
}

TEST_CASE("long_inputs_stay_bounded_and_keep_the_first_tokens_exact", "[tokenizer][slow]") {
  const Tokenizer& tok = openclip_tokenizer();
  std::string captions;
  while (captions.size() < (1u << 20)) captions += "a small red car parked near the old bridge at night, ";
  const std::string huge_word(100000, 'a');
  std::string nested = "&";  // 20k levels of "&amp;amp;...": ftfy would need one pass per level
  for (int i = 0; i < 20000; ++i) nested += "amp;";
  // Entities before a far-away '<' on the same line: ftfy must not unescape them (the prefix rule
  // has to see the '<' beyond its cut).
  std::string lt_later = "&amp;amp;amp; ";
  for (int i = 0; i < 2000; ++i) lt_later += "word ";
  lt_later += "<b>";
  std::string many_lines;
  for (int i = 0; i < 20000; ++i) many_lines += "line &amp; " + std::to_string(i) + "\n";

  for (const std::string* text : std::vector<const std::string*>{&captions, &huge_word, &lt_later, &many_lines}) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<int32_t> padded = padded_ok(tok, *text, 77);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::vector<int32_t> full = encode_ok(tok, *text);
    std::vector<int32_t> want{49406};
    want.insert(want.end(), full.begin(), full.begin() + std::min<size_t>(75, full.size()));
    want.push_back(49407);
    want.resize(77, 0);
    INFO("text of " << text->size() << " bytes, encode_padded took " << ms << " ms");
    CHECK(padded == want);
    CHECK(ms < 2000.0);  // generous: a shared 2-core CI box; typical is a few ms
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<int32_t> nested_ids = padded_ok(tok, nested, 77);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  INFO("nested entities took " << ms << " ms");
  CHECK(ms < 10000.0);  // bounded by the 256-pass cap (ftfy itself would take 20k passes)
  CHECK(nested_ids[0] == 49406);
}
