// Text cleaning: open_clip's _clean_lower and the HF fast tokenizer's normalizer.
#include "clean.hpp"

#include "html_unescape.hpp"

namespace cuclip::tok::detail {

void openclip_clean(std::u32string_view text, const FtfyOptions& ftfy_options, U32String* out) {
  U32String a, b;
  ftfy_fix_text(text, ftfy_options, &a);
  for (int round = 0; round < 2; ++round) {  // basic_clean: html.unescape(html.unescape(text))
    if (a.find(U'&') == U32String::npos) break;
    python_html_unescape(a, &b);
    a.swap(b);
  }
  // strip() and " ".join(text.split()) with Python's whitespace; strip() after the join is a no-op.
  // Without a capital sigma, lower() is per character and can be fused into the same loop.
  const bool has_sigma = a.find(char32_t{0x3A3}) != U32String::npos;
  U32String& collapsed = has_sigma ? b : *out;
  collapsed.resize(2 * a.size());  // U+0130 lowercases to two code points
  char32_t* const begin = collapsed.data();
  char32_t* w = begin;
  bool pending_space = false;
  for (char32_t c : a) {
    if (is_python_space(c)) {
      pending_space = w != begin;
      continue;
    }
    if (pending_space) *w++ = U' ';
    pending_space = false;
    if (has_sigma) {
      *w++ = c;
    } else if (c == 0x130) {
      *w++ = U'i';
      *w++ = 0x307;
    } else {
      *w++ = simple_lower(c);
    }
  }
  collapsed.resize(static_cast<size_t>(w - begin));
  if (has_sigma) lower_python(b, out);
}

void hf_normalize(std::u32string_view text, U32String* out) {
  U32String a(text), b;
  nfc_in_place(&a, NfcFlavor::HfTokenizers);
  b.reserve(a.size());
  for (size_t i = 0; i < a.size();) {
    if (is_hf_space(a[i])) {
      while (i < a.size() && is_hf_space(a[i])) ++i;
      b.push_back(U' ');
    } else {
      b.push_back(a[i++]);
    }
  }
  lower_per_char(b, out);
}

}  // namespace cuclip::tok::detail
