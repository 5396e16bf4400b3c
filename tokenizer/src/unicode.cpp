// UTF-8 codec and Unicode properties (ICU) for the tokenizer. See unicode.hpp.
#include "unicode.hpp"

#include <algorithm>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uset.h>
#include <unicode/utf16.h>

#include "char_tables.hpp"

namespace cuclip::tok::detail {
namespace {

bool in_sorted(const char32_t* table, size_t n, char32_t cp) { return std::binary_search(table, table + n, cp); }

Status utf8_error(size_t offset, const char* what) {
  return Err(CUCLIP_ERR_INVALID_TEXT, "invalid UTF-8 at byte offset " + std::to_string(offset) + ": " + what);
}

}  // namespace

namespace {

// Strict UTF-8 decoding; emit(cp) receives each code point.
template <typename Emit>
Status decode_utf8_impl(std::string_view in, Emit emit) {
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const size_t n = in.size();
  size_t i = 0;
  while (i < n) {
    unsigned char b = p[i];
    if (b < 0x80) {
      emit(b);
      ++i;
      continue;
    }
    int len;
    char32_t cp, min;
    if (b >= 0xC2 && b <= 0xDF) { len = 2; cp = b & 0x1F; min = 0x80; }
    else if (b >= 0xE0 && b <= 0xEF) { len = 3; cp = b & 0x0F; min = 0x800; }
    else if (b >= 0xF0 && b <= 0xF4) { len = 4; cp = b & 0x07; min = 0x10000; }
    else return utf8_error(i, b >= 0x80 && b <= 0xBF ? "unexpected continuation byte" : "invalid lead byte");
    if (i + len > n) return utf8_error(i, "truncated sequence");
    for (int k = 1; k < len; ++k) {
      unsigned char c = p[i + k];
      if ((c & 0xC0) != 0x80) return utf8_error(i, "missing continuation byte");
      cp = (cp << 6) | (c & 0x3F);
    }
    if (cp < min) return utf8_error(i, "overlong encoding");
    if (cp >= 0xD800 && cp <= 0xDFFF) return utf8_error(i, "encoded surrogate");
    if (cp > 0x10FFFF) return utf8_error(i, "code point above U+10FFFF");
    emit(cp);
    i += len;
  }
  return Status::Ok();
}

}  // namespace

Status decode_utf8(std::string_view in, U32String* out) {
  out->resize(in.size());  // never more code points than bytes
  char32_t* w = out->data();
  Status s = decode_utf8_impl(in, [&w](char32_t c) { *w++ = c; });
  out->resize(s.ok() ? static_cast<size_t>(w - out->data()) : 0);
  return s;
}

Status validate_utf8(std::string_view in) {
  return decode_utf8_impl(in, [](char32_t) {});
}

std::string to_utf8(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) append_utf8(c, &out);
  return out;
}

CharClass char_class_non_ascii(char32_t cp) {
  const uint32_t mask = U_GET_GC_MASK(static_cast<UChar32>(cp));
  if (mask & U_GC_L_MASK) return CharClass::Letter;
  if (mask & U_GC_N_MASK) return CharClass::Number;
  return CharClass::Other;
}

namespace {
// Every non-ASCII Unicode space lies in [U+0085, U+3000] and none in (U+00A0, U+1680).
bool may_be_space(char32_t cp) { return cp >= 0x85 && cp <= 0x3000 && !(cp > 0xA0 && cp < 0x1680); }
}  // namespace

bool is_python_space_non_ascii(char32_t cp) {
  return may_be_space(cp) && in_sorted(kPythonSpaces, kPythonSpacesCount, cp);
}
bool is_regex_space_non_ascii(char32_t cp) {
  return may_be_space(cp) && in_sorted(kRegexSpaces, kRegexSpacesCount, cp);
}
bool is_hf_space_non_ascii(char32_t cp) {
  return may_be_space(cp) && in_sorted(kHfSpaces, kHfSpacesCount, cp);
}

bool is_decimal_digit(char32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  return u_charType(static_cast<UChar32>(cp)) == U_DECIMAL_DIGIT_NUMBER;
}

namespace {


}  // namespace

char32_t simple_lower_non_ascii(char32_t cp) { return static_cast<char32_t>(u_tolower(static_cast<UChar32>(cp))); }

namespace {

bool is_cased(char32_t cp) { return u_hasBinaryProperty(static_cast<UChar32>(cp), UCHAR_CASED); }
bool is_case_ignorable(char32_t cp) { return u_hasBinaryProperty(static_cast<UChar32>(cp), UCHAR_CASE_IGNORABLE); }

// Final_Sigma as CPython evaluates it: a cased letter before (skipping case-ignorables) and no cased
// letter after (skipping case-ignorables).
bool is_final_sigma(std::u32string_view s, size_t i) {
  size_t j = i;
  while (j > 0 && is_case_ignorable(s[j - 1])) --j;
  if (j == 0 || !is_cased(s[j - 1])) return false;
  size_t k = i + 1;
  while (k < s.size() && is_case_ignorable(s[k])) ++k;
  return k == s.size() || !is_cased(s[k]);
}

template <bool kFinalSigma>
void lower_impl(std::u32string_view in, U32String* out) {
  out->clear();
  out->reserve(in.size() + 4);
  for (size_t i = 0; i < in.size(); ++i) {
    const char32_t c = in[i];
    if (c == 0x130) {  // the only unconditional multi-character lowercase mapping
      out->push_back(U'i');
      out->push_back(0x307);
    } else if (c == 0x3A3) {
      out->push_back(kFinalSigma && is_final_sigma(in, i) ? 0x3C2 : 0x3C3);
    } else {
      out->push_back(simple_lower(c));
    }
  }
}

}  // namespace

void lower_python(std::u32string_view in, U32String* out) { lower_impl<true>(in, out); }
void lower_per_char(std::u32string_view in, U32String* out) { lower_impl<false>(in, out); }

namespace {

const UNormalizer2* make_filtered_nfc(NfcFlavor flavor) {
  UErrorCode err = U_ZERO_ERROR;
  const UNormalizer2* nfc = unorm2_getNFCInstance(&err);
  if (U_FAILURE(err)) return nullptr;
  USet* set = nullptr;
  if (flavor == NfcFlavor::Python) {
    static const UChar kAge14[] = u"[:age=14.0:]";
    set = uset_openPattern(kAge14, -1, &err);
  } else {
    set = uset_open(0, 0x10FFFF);
    for (size_t i = 0; i < kHfNfcUnknownCount; ++i) uset_remove(set, static_cast<UChar32>(kHfNfcUnknown[i]));
  }
  if (U_FAILURE(err) || !set) return nullptr;
  uset_freeze(set);
  // The filtered normalizer keeps a pointer to the set; both live for the whole process.
  const UNormalizer2* filtered = unorm2_openFiltered(nfc, set, &err);
  return U_FAILURE(err) ? nullptr : filtered;
}

const UNormalizer2* filtered_nfc(NfcFlavor flavor) {
  static const UNormalizer2* python = make_filtered_nfc(NfcFlavor::Python);
  static const UNormalizer2* hf = make_filtered_nfc(NfcFlavor::HfTokenizers);
  return flavor == NfcFlavor::Python ? python : hf;
}

}  // namespace

bool is_nfc_inert(char32_t c) {
  if (c < 0x300) return true;
  const UChar32 u = static_cast<UChar32>(c);
  return u_getCombiningClass(u) == 0 && u_getIntPropertyValue(u, UCHAR_NFC_QUICK_CHECK) == UNORM_YES;
}

bool nfc_in_place(U32String* s, NfcFlavor flavor) {
  if (std::all_of(s->begin(), s->end(), is_nfc_inert)) return true;

  UErrorCode err = U_ZERO_ERROR;
  const UNormalizer2* nfc = filtered_nfc(flavor);
  if (!nfc) return false;
  std::u16string in16;
  in16.reserve(s->size() + 8);
  for (char32_t c : *s) {
    if (c >= 0x10000) {
      in16.push_back(static_cast<char16_t>(U16_LEAD(c)));
      in16.push_back(static_cast<char16_t>(U16_TRAIL(c)));
    } else {
      in16.push_back(static_cast<char16_t>(c));
    }
  }
  std::u16string out16(in16.size() + 16, u'\0');
  int32_t n = unorm2_normalize(nfc, reinterpret_cast<const UChar*>(in16.data()), static_cast<int32_t>(in16.size()),
                               reinterpret_cast<UChar*>(out16.data()), static_cast<int32_t>(out16.size()), &err);
  if (err == U_BUFFER_OVERFLOW_ERROR) {
    err = U_ZERO_ERROR;
    out16.assign(static_cast<size_t>(n), u'\0');
    n = unorm2_normalize(nfc, reinterpret_cast<const UChar*>(in16.data()), static_cast<int32_t>(in16.size()),
                         reinterpret_cast<UChar*>(out16.data()), n, &err);
  }
  if (U_FAILURE(err)) return false;
  s->clear();
  for (int32_t i = 0; i < n;) {
    UChar32 c;
    U16_NEXT(out16.data(), i, n, c);
    s->push_back(static_cast<char32_t>(c));
  }
  return true;
}

}  // namespace cuclip::tok::detail
