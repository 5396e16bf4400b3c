// HTML character references, decoded exactly as the reference does it: Python 3.11's html.unescape
// (HTML5 rules: legacy names without ';' by longest prefix, numeric references with or without ';',
// Windows-1252 remap of 0x80-0x9F, invalid code points) and ftfy 6.3.1's stricter unescape_html.
#pragma once
#include <string_view>

#include "unicode.hpp"

namespace cuclip::tok::detail {

// html.unescape(in). Appends to *out (cleared first).
void python_html_unescape(std::u32string_view in, U32String* out);

// ftfy.fixes.unescape_html(in): only "&name;" / "&#...;" with 1..24 ASCII alphanumerics, names from
// the HTML5 table (with ';') plus ftfy's all-caps variants; numeric ones through html.unescape,
// kept verbatim when that leaves a ';' behind. Appends to *out (cleared first).
void ftfy_unescape_html(std::u32string_view in, U32String* out);

}  // namespace cuclip::tok::detail
