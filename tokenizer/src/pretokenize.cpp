// Hand-compiled split pattern (see pretokenize.hpp). Alternatives are tried in the pattern's order
// at each position, exactly like a backtracking regex's leftmost-first alternation.
#include "pretokenize.hpp"

#include <algorithm>

#include "char_tables.hpp"

namespace cuclip::tok::detail {
namespace {

// Does text character t match pattern character p under `regex`'s IGNORECASE (simple folding)?
bool fold_equal(char32_t t, char32_t p) {
  if (t == p) return true;
  if (p < 0x80 && ((p | 0x20) >= 'a' && (p | 0x20) <= 'z')) {
    const char lower = static_cast<char>(p | 0x20);
    if (t < 0x80) return (t | 0x20) == static_cast<char32_t>(lower);
    for (size_t i = 0; i < kRegexAsciiFoldsCount; ++i)
      if (kRegexAsciiFolds[i].cp == t && kRegexAsciiFolds[i].letter == lower) return true;
  }
  return false;
}

// Length of `lit` matched at text[pos] (0 if no match).
size_t match_literal(std::u32string_view text, size_t pos, std::u32string_view lit, bool ignore_case) {
  if (text.size() - pos < lit.size()) return 0;
  for (size_t k = 0; k < lit.size(); ++k) {
    const char32_t t = text[pos + k];
    if (ignore_case ? !fold_equal(t, lit[k]) : t != lit[k]) return 0;
  }
  return lit.size();
}

bool is_ignorecase_unmatched(char32_t c) {
  return c >= 0x300 && std::binary_search(kRegexIgnorecaseUnmatched,
                                          kRegexIgnorecaseUnmatched + kRegexIgnorecaseUnmatchedCount, c);
}

enum class Kind : uint8_t { Letter, Number, Other, Skip };

Kind kind_of(char32_t c, SplitFlavor flavor) {
  if (flavor == SplitFlavor::OpenClip) {
    if (is_regex_space(c) || is_ignorecase_unmatched(c)) return Kind::Skip;
  } else if (is_hf_space(c)) {
    return Kind::Skip;
  }
  switch (char_class(c)) {
    case CharClass::Letter: return Kind::Letter;
    case CharClass::Number: return Kind::Number;
    default: return Kind::Other;
  }
}

const std::u32string_view kContractions[] = {U"'s", U"'t", U"'re", U"'ve", U"'m", U"'ll", U"'d"};

}  // namespace

bool next_piece(std::u32string_view text, SplitFlavor flavor, const std::vector<SpecialString>& specials,
                size_t* pos, Piece* piece) {
  const bool ignore_case = flavor == SplitFlavor::OpenClip;
  size_t i = *pos;
  while (i < text.size()) {
    const char32_t c = text[i];
    piece->begin = i;
    piece->special_id = -1;
    if (flavor == SplitFlavor::OpenClip) {
      for (const SpecialString& s : specials) {
        if (size_t n = match_literal(text, i, s.text, true)) {
          piece->end = i + n;
          if (text.substr(i, n) == s.text) piece->special_id = s.id;
          *pos = piece->end;
          return true;
        }
      }
    }
    if (c == U'\'') {
      for (std::u32string_view lit : kContractions) {
        if (size_t n = match_literal(text, i, lit, ignore_case)) {
          piece->end = i + n;
          *pos = piece->end;
          return true;
        }
      }
    }
    const Kind kind = kind_of(c, flavor);
    if (kind == Kind::Skip) {
      ++i;
      continue;
    }
    size_t j = i + 1;
    if (kind != Kind::Number)
      while (j < text.size() && kind_of(text[j], flavor) == kind) ++j;
    piece->end = j;
    *pos = j;
    return true;
  }
  *pos = i;
  return false;
}

}  // namespace cuclip::tok::detail
