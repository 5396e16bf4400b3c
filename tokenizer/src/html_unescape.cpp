// HTML character reference decoding (Python html.unescape and ftfy's unescape_html).
#include "html_unescape.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "html_tables.hpp"

namespace cuclip::tok::detail {
namespace {

const char32_t* find_entity(const NamedEntity* table, size_t n, std::string_view name) {
  const NamedEntity* end = table + n;
  const NamedEntity* it = std::lower_bound(table, end, name, [](const NamedEntity& e, std::string_view key) {
    return std::string_view(e.name) < key;
  });
  if (it != end && std::string_view(it->name) == name) return it->value;
  return nullptr;
}

const char32_t* find_html5(std::string_view name) { return find_entity(kHtml5Entities, kHtml5EntityCount, name); }

void append_u32(const char32_t* s, U32String* out) {
  while (*s) out->push_back(*s++);
}

bool is_ascii_digit(char32_t c) { return c >= '0' && c <= '9'; }
bool is_ascii_hex(char32_t c) { return is_ascii_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); }
bool is_ascii_alnum(char32_t c) { return is_ascii_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'); }

// Windows-1252 meanings of the C1 range (and of 0x00 / 0x0D) per the HTML5 numeric reference rules.
char32_t invalid_charref_replacement(uint64_t num, bool* found) {
  static const char32_t kC1[32] = {0x20AC, 0x81,   0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                                   0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D,   0x017D, 0x8F,
                                   0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                   0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D,   0x017E, 0x0178};
  *found = true;
  if (num == 0x00) return 0xFFFD;
  if (num == 0x0D) return U'\r';
  if (num >= 0x80 && num <= 0x9F) return kC1[num - 0x80];
  *found = false;
  return 0;
}

// Code points html.unescape drops: C0/C1 controls except whitespace, noncharacters.
bool is_dropped_code_point(uint64_t num) {
  if ((num >= 0x1 && num <= 0x8) || num == 0xB || (num >= 0xE && num <= 0x1F) || (num >= 0x7F && num <= 0x9F))
    return true;
  if (num >= 0xFDD0 && num <= 0xFDEF) return true;
  return (num & 0xFFFE) == 0xFFFE && num <= 0x10FFFF;
}

// Appends what Python's _replace_charref returns for a numeric reference with value `num`
// (saturated: anything above 0x10FFFF behaves the same).
void append_numeric(uint64_t num, U32String* out) {
  bool found;
  char32_t r = invalid_charref_replacement(num, &found);
  if (found) { out->push_back(r); return; }
  if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) { out->push_back(0xFFFD); return; }
  if (is_dropped_code_point(num)) return;
  out->push_back(static_cast<char32_t>(num));
}

// Parses digits (base 10 or 16) saturating at a value above 0x10FFFF. Python's int() has no such
// limit (it raises for more than 4300 decimal digits; we answer U+FFFD there).
uint64_t parse_saturating(std::u32string_view digits, int base) {
  uint64_t v = 0;
  for (char32_t c : digits) {
    uint64_t d = is_ascii_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
    v = v * base + d;
    if (v > 0x110000) v = 0x110000;
  }
  return v;
}

bool is_name_char(char32_t c) {  // [^\t\n\f <&#;]
  return c != '\t' && c != '\n' && c != '\f' && c != ' ' && c != '<' && c != '&' && c != '#' && c != ';';
}

// Tries html.unescape's pattern at s[amp] == '&'. On a match appends the replacement and returns the
// index just past the match; otherwise returns amp (nothing appended).
size_t unescape_one(std::u32string_view s, size_t amp, U32String* out) {
  const size_t n = s.size();
  size_t i = amp + 1;
  if (i < n && s[i] == '#') {
    size_t j = i + 1;
    if (j < n && is_ascii_digit(s[j])) {  // '#[0-9]+;?'
      size_t k = j;
      while (k < n && is_ascii_digit(s[k])) ++k;
      append_numeric(parse_saturating(s.substr(j, k - j), 10), out);
      return (k < n && s[k] == ';') ? k + 1 : k;
    }
    if (j + 1 < n && (s[j] == 'x' || s[j] == 'X') && is_ascii_hex(s[j + 1])) {  // '#[xX][0-9a-fA-F]+;?'
      size_t k = j + 1;
      while (k < n && is_ascii_hex(s[k])) ++k;
      append_numeric(parse_saturating(s.substr(j + 1, k - j - 1), 16), out);
      return (k < n && s[k] == ';') ? k + 1 : k;
    }
    return amp;  // the name alternative cannot start with '#'
  }
  // '[^\t\n\f <&#;]{1,32};?'
  size_t k = i;
  while (k < n && k - i < 32 && is_name_char(s[k])) ++k;
  if (k == i) return amp;
  const bool semi = k < n && s[k] == ';';
  const size_t end = semi ? k + 1 : k;
  // The table is ASCII; a non-ASCII character can never be part of a matching (prefix of a) name.
  std::string name;
  for (size_t p = i; p < end; ++p) name.push_back(s[p] < 0x80 ? static_cast<char>(s[p]) : '\xff');
  if (const char32_t* v = find_html5(name)) {
    append_u32(v, out);
    return end;
  }
  for (size_t len = name.size() - 1; len >= 2; --len) {  // longest legacy name that is a prefix
    if (const char32_t* v = find_html5(std::string_view(name).substr(0, len))) {
      append_u32(v, out);
      out->append(s.substr(i + len, end - (i + len)));
      return end;
    }
  }
  out->append(s.substr(amp, end - amp));  // '&' + s: unchanged
  return end;
}

}  // namespace

void python_html_unescape(std::u32string_view in, U32String* out) {
  out->clear();
  out->reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    if (in[i] != '&') {
      out->push_back(in[i++]);
      continue;
    }
    size_t next = unescape_one(in, i, out);
    if (next == i) {
      out->push_back(in[i++]);
    } else {
      i = next;
    }
  }
}

void ftfy_unescape_html(std::u32string_view in, U32String* out) {
  out->clear();
  out->reserve(in.size());
  const size_t n = in.size();
  size_t i = 0;
  U32String tmp;
  while (i < n) {
    if (in[i] != '&') {
      out->push_back(in[i++]);
      continue;
    }
    // '&#?[0-9A-Za-z]{1,24};'
    const bool numeric = i + 1 < n && in[i + 1] == '#';
    size_t j = i + 1 + (numeric ? 1 : 0);
    size_t k = j;
    while (k < n && k - j < 24 && is_ascii_alnum(in[k])) ++k;
    if (k == j || k >= n || in[k] != ';') {
      out->push_back(in[i++]);
      continue;
    }
    const size_t end = k + 1;
    const std::u32string_view match = in.substr(i, end - i);
    if (!numeric) {
      std::string name;
      for (size_t p = j; p < end; ++p) name.push_back(static_cast<char>(in[p]));
      const char32_t* v = find_html5(name);
      if (!v) v = find_entity(kFtfyExtraEntities, kFtfyExtraEntityCount, name);
      if (v) append_u32(v, out);
      else out->append(match);
    } else {
      python_html_unescape(match, &tmp);
      if (tmp.find(U';') != U32String::npos) out->append(match);
      else out->append(tmp);
    }
    i = end;
  }
}

}  // namespace cuclip::tok::detail
