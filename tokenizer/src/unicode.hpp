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
void append_utf8(char32_t cp, std::string* out);
std::string to_utf8(std::u32string_view s);

// The split pattern's classes: \p{L}, \p{N} (Nd, Nl, No) or anything else.
enum class CharClass : uint8_t { Letter, Number, Other };
CharClass char_class(char32_t cp);

bool is_python_space(char32_t cp);  // str.isspace(): what str.split()/strip() remove
bool is_regex_space(char32_t cp);   // \s of the `regex` module (open_clip's split pattern)
bool is_hf_space(char32_t cp);      // \s of tokenizers' Oniguruma (the HF normalizer and pre-tokenizer)
bool is_decimal_digit(char32_t cp); // Python re's \d for str patterns: general category Nd

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
