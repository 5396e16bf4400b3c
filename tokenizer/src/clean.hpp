// Text cleaning before the split: open_clip's 'lower' clean function and the HF fast normalizer.
#pragma once
#include "ftfy.hpp"
#include "unicode.hpp"

namespace cuclip::tok::detail {

// open_clip _clean_lower: ftfy.fix_text -> html.unescape twice -> strip -> " ".join(split()) -> lower().
void openclip_clean(std::u32string_view text, const FtfyOptions& ftfy_options, U32String* out);

// tokenizers' CLIP normalizer: NFC -> Replace(\s+ -> " ") -> Lowercase (per character).
void hf_normalize(std::u32string_view text, U32String* out);

}  // namespace cuclip::tok::detail
