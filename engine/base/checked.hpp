// Overflow-checked size arithmetic for everything sized by untrusted input.
#pragma once
#include <cstddef>
#include <cstdint>
#include <limits>

namespace cuclip {

// Each returns false (and leaves *out unspecified) when the exact result does not fit.
inline bool checked_add(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_add_overflow(a, b, out); }
inline bool checked_mul(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_mul_overflow(a, b, out); }

// Product of dims; false on overflow or a negative dim.
template <class It>
bool checked_product(It begin, It end, uint64_t* out) {
  uint64_t p = 1;
  for (It it = begin; it != end; ++it) {
    if (*it < 0) return false;
    if (!checked_mul(p, static_cast<uint64_t>(*it), &p)) return false;
  }
  *out = p;
  return true;
}

constexpr uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }
inline bool checked_align_up(uint64_t x, uint64_t a, uint64_t* out) {
  uint64_t t;
  if (!checked_add(x, a - 1, &t)) return false;
  *out = t / a * a;
  return true;
}

template <class T>
constexpr T ceil_div(T a, T b) { return (a + b - 1) / b; }

}  // namespace cuclip
