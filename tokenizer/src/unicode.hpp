// Code points and their properties for the tokenizer: strict UTF-8 decoding/encoding and the
// character classes the reference pipelines use. Unicode data comes from ICU (libicuuc 72,
// Unicode 15.0); the small whitespace/folding sets that belong to a particular regex engine come
// from the generated char_tables.gen.cpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.hpp"

namespace cuclip::tok::detail {

using U32String = std::u32string;

// Decodes strict UTF-8 (no overlongs, surrogates or code points above U+10FFFF). On error returns
// CUCLIP_ERR_INVALID_TEXT naming the byte offset of the offending sequence.
Status decode_utf8(std::string_view in, U32String* out);
Status validate_utf8(std::string_view in);
std::string to_utf8(std::u32string_view s);

inline void append_utf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// The split pattern's classes: \p{L}, \p{N} (Nd, Nl, No) or anything else.
enum class CharClass : uint8_t { Letter, Number, Other };
CharClass char_class_non_ascii(char32_t cp);
inline CharClass char_class(char32_t cp) {
  if (cp >= 0x80) return char_class_non_ascii(cp);
  if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return CharClass::Letter;
  if (cp >= '0' && cp <= '9') return CharClass::Number;
  return CharClass::Other;
}

// The three whitespace sets (the ASCII parts inline; the unit tests compare all three with the
// generated tables for every code point).
bool is_python_space_non_ascii(char32_t cp);
bool is_regex_space_non_ascii(char32_t cp);
bool is_hf_space_non_ascii(char32_t cp);
// str.isspace(): what str.split()/strip() remove.
inline bool is_python_space(char32_t cp) {
  if (cp >= 0x80) return is_python_space_non_ascii(cp);
  return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
}
// \s of the `regex` module (open_clip's split pattern).
inline bool is_regex_space(char32_t cp) {
  if (cp >= 0x80) return is_regex_space_non_ascii(cp);
  return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
}
// \s of tokenizers' Oniguruma (the HF normalizer and pre-tokenizer).
inline bool is_hf_space(char32_t cp) {
  if (cp >= 0x80) return is_hf_space_non_ascii(cp);
  return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
}
bool is_decimal_digit(char32_t cp);  // Python re's \d for str patterns: general category Nd

// Simple (1:1) lowercase mapping; U+0130 and U+03A3 need the full functions below.
char32_t simple_lower_non_ascii(char32_t cp);
inline char32_t simple_lower(char32_t cp) {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 0x20 : cp;
  return simple_lower_non_ascii(cp);
}

// Python's str.lower(): simple lowercase mapping, U+0130 -> "i\u0307", and U+03A3 -> final or
// medial sigma by the Final_Sigma context (cased letter before, none after, skipping case-ignorables).
void lower_python(std::u32string_view in, U32String* out);
// Rust's char::to_lowercase applied char by char (what tokenizers' Lowercase does): like
// lower_python but U+03A3 is always U+03C3.
void lower_per_char(std::u32string_view in, U32String* out);

// True when NFC cannot change c or anything around it: c is below U+0300, or has combining class
// 0 and NFC_Quick_Check=Yes (then only a following non-inert character could trigger a change).
bool is_nfc_inert(char32_t c);

// Unicode NFC as a given reference computes it. ICU 72 knows Unicode 15.0; each reference's tables
// are older, and a character its tables lack behaves as unassigned (no decomposition, combining
// class 0), so we run ICU's NFC filtered to the characters the reference knows.
enum class NfcFlavor {
  Python,        // unicodedata (Python 3.11): Unicode 14.0, i.e. ICU filtered to [:age=14.0:]
  HfTokenizers,  // tokenizers' NFC: ICU minus kHfNfcUnknown (108 marks of Unicode 10.0-15.0)
};
// Returns false only if ICU fails (out of memory); `s` is then unchanged.
bool nfc_in_place(U32String* s, NfcFlavor flavor);

}  // namespace cuclip::tok::detail
