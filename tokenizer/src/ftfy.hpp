// The deterministic part of ftfy 6.3.1's fix_text() with its default configuration.
// Left out: fix_encoding (heuristic mojibake repair; see docs/tokenizer.md for how often the golden
// corpus needs it).
#pragma once
#include "unicode.hpp"

namespace cuclip::tok::detail {

struct FtfyOptions {
  // ftfy cuts its input into segments after each '\n' and every max_decode_length code points.
  size_t max_decode_length = 1000000;
  // A segment needs at most a handful of passes to reach ftfy's fixed point; only nested escapes
  // like "&amp;amp;amp;..." need one pass per level. Past this many passes we stop (bounded time;
  // ftfy itself would keep going).
  int max_passes = 256;
  // Set when the caller passes only a prefix of a segment whose remainder contains '<': the last
  // segment then must not unescape HTML either (see Tokenizer's long-input rule).
  bool last_segment_has_lt = false;
};

// ftfy.fix_text(text) without fix_encoding. Writes the result to *out.
void ftfy_fix_text(std::u32string_view text, const FtfyOptions& options, U32String* out);

}  // namespace cuclip::tok::detail
