// Declarations of the generated HTML named-reference tables (html5_entities.gen.cpp).
#pragma once
#include <cstddef>

namespace cuclip::tok::detail {

struct NamedEntity {
  const char* name;      // without the leading '&'; with the trailing ';' when the table has it
  const char32_t* value; // 1..3 code points, NUL-terminated
};

extern const NamedEntity kHtml5Entities[];  // sorted by name (byte order)
extern const size_t kHtml5EntityCount;
extern const NamedEntity kFtfyExtraEntities[];  // sorted by name
extern const size_t kFtfyExtraEntityCount;

}  // namespace cuclip::tok::detail
