// The split pattern of CLIP's tokenizers, hand-compiled:
//   <special>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// OpenClip flavour: open_clip's `regex` pattern with IGNORECASE (specials and contractions match
// the characters `regex` case-folds to their letters, e.g. U+017F for 's'; U+0345 matches no
// alternative), \s of the `regex` module. HfFast flavour: tokenizers' case-sensitive pattern without
// specials (those are cut out before normalization), \s of Oniguruma.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

#include "unicode.hpp"

namespace cuclip::tok::detail {

struct SpecialString {
  U32String text;
  int32_t id;
};

struct Piece {
  size_t begin, end;  // [begin, end) in the text
  int32_t special_id; // >= 0: the piece is exactly a special token's text
};

enum class SplitFlavor { OpenClip, HfFast };

// Returns the next piece at or after *pos (advancing *pos past it), or false at the end of text.
bool next_piece(std::u32string_view text, SplitFlavor flavor, const std::vector<SpecialString>& specials,
                size_t* pos, Piece* piece);

}  // namespace cuclip::tok::detail
