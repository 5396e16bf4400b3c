// ftfy.fix_text (6.3.1, default config, fix_encoding excluded): segment the text, then per segment
// apply the fixers in ftfy's order until nothing changes. The fixers themselves are table lookups;
// the tables are generated from the ftfy package (char_tables.gen.cpp).
#include "ftfy.hpp"

#include <algorithm>

#include "char_tables.hpp"
#include "html_unescape.hpp"

namespace cuclip::tok::detail {
namespace {

const CharMapping* find_mapping(const CharMapping* table, size_t n, char32_t cp) {
  const CharMapping* end = table + n;
  const CharMapping* it =
      std::lower_bound(table, end, cp, [](const CharMapping& m, char32_t c) { return m.from < c; });
  return (it != end && it->from == cp) ? it : nullptr;
}

bool is_curly_single(char32_t c) { return c == 0x2BC || (c >= 0x2018 && c <= 0x201B); }
bool is_curly_double(char32_t c) { return c >= 0x201C && c <= 0x201F; }

// Could fix_c1_controls, fix_latin_ligatures, fix_character_width or uncurl_quotes change c?
bool has_char_fix(char32_t c) {
  return (c >= 0x80 && c <= 0x9F) || (c >= 0x132 && c <= 0x1F3) || c == 0x2BC || (c >= 0x2018 && c <= 0x201F) ||
         (c >= 0xFB00 && c <= 0xFB06) || c == 0x3000 || (c >= 0xFF01 && c <= 0xFFEF);
}

bool is_removed_control(char32_t c) {
  if ((c >= 0x20 && c < 0x7F) || (c >= 0x80 && c < 0x206A) || c > 0xFFFC) return false;  // ftfy's list has none there
  return std::binary_search(kFtfyControlChars, kFtfyControlChars + kFtfyControlCharsCount, c);
}

// Characters no fixer touches (no '&', no line break or escape, no mapped or removed character)
// and that NFC leaves alone. A text made only of them is its own fix_text result, which lets the
// common case skip the passes entirely.
bool is_inert(char32_t c) {
  if (c < 0x80) return (c >= 0x20 && c < 0x7F && c != '&') || c == '\n' || c == '\t';
  if (c < 0xA0 || c == 0x2028 || c == 0x2029 || has_char_fix(c) || is_removed_control(c)) return false;
  return is_nfc_inert(c);
}

void append_mapped(const CharMapping* table, size_t n, char32_t c, U32String* out) {
  const CharMapping* m = find_mapping(table, n, c);
  if (m) out->append(m->to);
  else out->push_back(c);
}

// fix_c1_controls, fix_latin_ligatures, fix_character_width, uncurl_quotes: all per character and
// applied one after the other, so a character produced by one is seen by the later ones.
void apply_char_fixers(const U32String& in, U32String* out) {
  out->clear();
  out->reserve(in.size());
  U32String c1, lig, width;
  for (char32_t c : in) {
    if (!has_char_fix(c)) {
      out->push_back(c);
      continue;
    }
    c1.clear();
    append_mapped(kFtfyC1Map, kFtfyC1MapCount, c, &c1);
    lig.clear();
    for (char32_t d : c1) append_mapped(kFtfyLigatures, kFtfyLigaturesCount, d, &lig);
    width.clear();
    for (char32_t d : lig) append_mapped(kFtfyWidthMap, kFtfyWidthMapCount, d, &width);
    for (char32_t d : width) {
      if (is_curly_double(d)) out->push_back(U'"');
      else if (is_curly_single(d)) out->push_back(U'\'');
      else out->push_back(d);
    }
  }
}

// fix_line_breaks: CRLF, CR, U+2028, U+2029, U+0085 -> LF.
void fix_line_breaks(const U32String& in, U32String* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char32_t c = in[i];
    if (c == '\r') {
      if (i + 1 < in.size() && in[i + 1] == '\n') ++i;
      out->push_back('\n');
    } else if (c == 0x2028 || c == 0x2029 || c == 0x85) {
      out->push_back('\n');
    } else {
      out->push_back(c);
    }
  }
}

// remove_terminal_escapes: "\x1b[" then (Unicode decimal digit | ';')* then an ASCII letter.
void remove_terminal_escapes(const U32String& in, U32String* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size();) {
    if (in[i] == 0x1B && i + 1 < in.size() && in[i + 1] == '[') {
      size_t k = i + 2;
      while (k < in.size() && (in[k] == ';' || is_decimal_digit(in[k]))) ++k;
      if (k < in.size() && (((in[k] | 0x20) >= 'a' && (in[k] | 0x20) <= 'z'))) {
        i = k + 1;
        continue;
      }
    }
    out->push_back(in[i++]);
  }
}

void remove_control_chars(const U32String& in, U32String* out) {
  out->clear();
  out->reserve(in.size());
  for (char32_t c : in) {
    if (is_removed_control(c)) continue;
    out->push_back(c);
  }
}

bool is_line_break_char(char32_t c) { return c == '\r' || c == 0x2028 || c == 0x2029 || c == 0x85; }

// One pass of fix_and_explain's loop. Each fixer runs only when the text holds a character it
// could change (a cheap scan instead of a copy). fix_surrogates has nothing to do: our text comes
// from valid UTF-8 and no fixer produces a surrogate.
void fix_pass(const U32String& in, bool unescape_html, U32String* out) {
  U32String& cur = *out;
  cur = in;
  U32String tmp;
  auto contains = [&cur](auto pred) { return std::any_of(cur.begin(), cur.end(), pred); };
  if (unescape_html && cur.find(U'&') != U32String::npos) {
    ftfy_unescape_html(cur, &tmp);
    cur.swap(tmp);
  }
  if (contains(has_char_fix)) {
    apply_char_fixers(cur, &tmp);
    cur.swap(tmp);
  }
  if (contains(is_line_break_char)) {
    fix_line_breaks(cur, &tmp);
    cur.swap(tmp);
  }
  if (cur.find(char32_t{0x1B}) != U32String::npos) {
    remove_terminal_escapes(cur, &tmp);
    cur.swap(tmp);
  }
  if (contains(is_removed_control)) {
    remove_control_chars(cur, &tmp);
    cur.swap(tmp);
  }
  nfc_in_place(&cur, NfcFlavor::Python);
}

void fix_segment(std::u32string_view segment, bool unescape_html, int max_passes, U32String* out) {
  U32String text(segment), next;
  for (int pass = 0; pass < max_passes; ++pass) {
    fix_pass(text, unescape_html, &next);
    if (next == text) break;
    text.swap(next);
  }
  out->append(text);
}

}  // namespace

void ftfy_fix_text(std::u32string_view text, const FtfyOptions& options, U32String* out) {
  out->clear();
  if (std::all_of(text.begin(), text.end(), is_inert)) {
    out->assign(text);
    return;
  }
  bool unescape_html = true;  // "auto": switched off for good by the first segment holding '<'
  size_t pos = 0;
  while (pos < text.size()) {
    size_t brk = text.find(U'\n', pos);
    brk = (brk == std::u32string_view::npos) ? text.size() : brk + 1;
    if (brk - pos > options.max_decode_length) brk = pos + options.max_decode_length;
    const std::u32string_view segment = text.substr(pos, brk - pos);
    if (segment.find(U'<') != std::u32string_view::npos) unescape_html = false;
    if (brk == text.size() && options.last_segment_has_lt) unescape_html = false;
    fix_segment(segment, unescape_html, options.max_passes, out);
    pos = brk;
  }
}

}  // namespace cuclip::tok::detail

