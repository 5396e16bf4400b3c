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
  b.clear();
  b.reserve(a.size());
  bool pending_space = false;
  for (char32_t c : a) {
    if (is_python_space(c)) {
      pending_space = !b.empty();
      continue;
    }
    if (pending_space) b.push_back(U' ');
    pending_space = false;
    b.push_back(c);
  }
  lower_python(b, out);
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
