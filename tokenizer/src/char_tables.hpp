// Declarations of the generated character tables (char_tables.gen.cpp): ftfy's fixer tables and the
// whitespace / case-folding sets of the reference regex engines. Arrays are sorted by code point.
#pragma once
#include <cstddef>

namespace cuclip::tok::detail {

struct CharMapping {
  char32_t from;
  const char32_t* to;  // NUL-terminated replacement (may be empty)
};
struct AsciiFold {
  char32_t cp;
  char letter;  // lowercase ASCII letter that `regex` IGNORECASE matches cp against
};

extern const CharMapping kFtfyWidthMap[];
extern const size_t kFtfyWidthMapCount;
extern const CharMapping kFtfyLigatures[];
extern const size_t kFtfyLigaturesCount;
extern const CharMapping kFtfyC1Map[];
extern const size_t kFtfyC1MapCount;
extern const char32_t kFtfyControlChars[];
extern const size_t kFtfyControlCharsCount;
extern const char32_t kPythonSpaces[];
extern const size_t kPythonSpacesCount;
extern const char32_t kRegexSpaces[];
extern const size_t kRegexSpacesCount;
extern const char32_t kHfSpaces[];
extern const size_t kHfSpacesCount;
extern const char32_t kRegexIgnorecaseUnmatched[];
extern const size_t kRegexIgnorecaseUnmatchedCount;
extern const char32_t kHfNfcUnknown[];
extern const size_t kHfNfcUnknownCount;
extern const AsciiFold kRegexAsciiFolds[];  // not sorted
extern const size_t kRegexAsciiFoldsCount;

}  // namespace cuclip::tok::detail
