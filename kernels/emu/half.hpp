// __half and __nv_bfloat16 for the CPU emulator, with the conversions CUDA kernels use.
//
// Rounding is round-to-nearest-even like the GPU's cvt.rn; NaN becomes the canonical NaN 0x7fff
// (f32 -> f16/bf16) and f16 NaN widens to 0x7fffffff, as the toolkit's own host fallbacks do. The
// f32 -> f16 conversion uses the compiler's _Float16 (correctly rounded, an implementation
// independent of engine/base/half.hpp, which the tests compare it against).
// Arithmetic on halves is done in float and rounded once: float carries more than 2p+2 bits for
// both formats, so this double rounding gives the correctly rounded result of +, -, *, /.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/emu/cuda_types.hpp"

#if !defined(__FLT16_MANT_DIG__)
#include "base/half.hpp"
#endif

namespace cuclip::emu {

inline uint32_t f32_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline float bits_f32(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

inline unsigned short f32_to_f16_rn(float f) {
  if (f != f) return 0x7fffu;
#if defined(__FLT16_MANT_DIG__)
  _Float16 h = static_cast<_Float16>(f);
  unsigned short u;
  std::memcpy(&u, &h, 2);
  return u;
#else
  return cuclip::f32_to_f16(f);
#endif
}

inline float f16_to_f32(unsigned short h) {
  if ((h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0) return bits_f32(0x7fffffffu);
#if defined(__FLT16_MANT_DIG__)
  _Float16 v;
  std::memcpy(&v, &h, 2);
  return static_cast<float>(v);
#else
  return cuclip::f16_to_f32(h);
#endif
}

inline unsigned short f32_to_bf16_rn(float f) {
  uint32_t x = f32_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return 0x7fffu;
  x += 0x7fffu + ((x >> 16) & 1u);  // ties go to the even upper half
  return static_cast<unsigned short>(x >> 16);
}

inline float bf16_to_f32(unsigned short b) { return bits_f32(static_cast<uint32_t>(b) << 16); }

// d rounded to float with round-to-odd: when inexact, the neighbour with an odd last bit. A later
// round-to-nearest to a format with at most 22 bits of precision is then as if done directly.
inline float double_to_float_odd(double d) {
  float f = static_cast<float>(d);
  if (static_cast<double>(f) != d && (f32_bits(f) & 1u) == 0)
    f = std::nextafter(f, d > static_cast<double>(f) ? INFINITY : -INFINITY);
  return f;
}

// a*b + c rounded to float with round-to-odd. Rounding that result once more to f16 or bf16 (to
// nearest even) is then the correctly rounded fma, since float keeps more than p+2 bits of both.
// The product of two halves is exact in double; TwoSum recovers the error of the addition.
inline float fma_round_to_odd(float a, float b, float c) {
  double s = static_cast<double>(a) * b;
  double t = s + c;
  double bb = t - s;
  double err = (s - (t - bb)) + (c - bb);
  uint64_t tb;
  std::memcpy(&tb, &t, 8);
  if (err != 0 && (tb & 1) == 0) t = std::nextafter(t, err > 0 ? INFINITY : -INFINITY);
  return double_to_float_odd(t);
}

struct __half_raw { unsigned short x; };
struct __nv_bfloat16_raw { unsigned short x; };

struct __half {
  unsigned short __x;
  __half() = default;
  constexpr __half(__half_raw r) : __x(r.x) {}
  __half(float f) : __x(f32_to_f16_rn(f)) {}
  __half(double d) : __x(f32_to_f16_rn(double_to_float_odd(d))) {}
  __half(int i) : __half(static_cast<double>(i)) {}
  __half(unsigned int i) : __half(static_cast<double>(i)) {}
  operator float() const { return f16_to_f32(__x); }
  operator __half_raw() const { return __half_raw{__x}; }
};

struct __nv_bfloat16 {
  unsigned short __x;
  __nv_bfloat16() = default;
  constexpr __nv_bfloat16(__nv_bfloat16_raw r) : __x(r.x) {}
  __nv_bfloat16(float f) : __x(f32_to_bf16_rn(f)) {}
  __nv_bfloat16(double d) : __x(f32_to_bf16_rn(double_to_float_odd(d))) {}
  __nv_bfloat16(int i) : __nv_bfloat16(static_cast<double>(i)) {}
  __nv_bfloat16(unsigned int i) : __nv_bfloat16(static_cast<double>(i)) {}
  operator float() const { return bf16_to_f32(__x); }
  operator __nv_bfloat16_raw() const { return __nv_bfloat16_raw{__x}; }
};

struct alignas(4) __half2 {
  __half x, y;
  __half2() = default;
  __half2(__half a, __half b) : x(a), y(b) {}
};
struct alignas(4) __nv_bfloat162 {
  __nv_bfloat16 x, y;
  __nv_bfloat162() = default;
  __nv_bfloat162(__nv_bfloat16 a, __nv_bfloat16 b) : x(a), y(b) {}
};

using half = __half;
using half2 = __half2;
using nv_bfloat16 = __nv_bfloat16;
using nv_bfloat162 = __nv_bfloat162;

// --- f16 ----------------------------------------------------------------------------------------
inline __half __ushort_as_half(unsigned short u) { return __half(__half_raw{u}); }
inline unsigned short __half_as_ushort(__half h) { return h.__x; }
inline __half __short_as_half(short s) { return __ushort_as_half(static_cast<unsigned short>(s)); }
inline short __half_as_short(__half h) { return static_cast<short>(h.__x); }
inline __half __float2half(float f) { return __half(f); }
inline __half __float2half_rn(float f) { return __half(f); }
inline float __half2float(__half h) { return static_cast<float>(h); }
inline __half __int2half_rn(int i) { return __half(i); }
inline __half2 __floats2half2_rn(float a, float b) { return __half2(__half(a), __half(b)); }
inline __half2 __float2half2_rn(float a) { return __half2(__half(a), __half(a)); }
inline __half2 __float22half2_rn(float2 v) { return __floats2half2_rn(v.x, v.y); }
inline float2 __half22float2(__half2 h) { return float2{float(h.x), float(h.y)}; }
inline float __low2float(__half2 h) { return float(h.x); }
inline float __high2float(__half2 h) { return float(h.y); }
inline __half __low2half(__half2 h) { return h.x; }
inline __half __high2half(__half2 h) { return h.y; }
inline __half2 __halves2half2(__half lo, __half hi) { return __half2(lo, hi); }
inline __half2 __half2half2(__half h) { return __half2(h, h); }
inline __half2 make_half2(__half x, __half y) { return __half2(x, y); }
inline bool __hisnan(__half h) { return (h.__x & 0x7c00u) == 0x7c00u && (h.__x & 0x3ffu) != 0; }
inline int __hisinf(__half h) { return h.__x == 0x7c00u ? 1 : (h.__x == 0xfc00u ? -1 : 0); }

inline __half __hadd(__half a, __half b) { return __half(float(a) + float(b)); }
inline __half __hsub(__half a, __half b) { return __half(float(a) - float(b)); }
inline __half __hmul(__half a, __half b) { return __half(float(a) * float(b)); }
inline __half __hdiv(__half a, __half b) { return __half(float(a) / float(b)); }
inline __half __hfma(__half a, __half b, __half c) { return __half(fma_round_to_odd(float(a), float(b), float(c))); }
inline __half __hneg(__half a) { return __ushort_as_half(a.__x ^ 0x8000u); }
inline __half __habs(__half a) { return __ushort_as_half(a.__x & 0x7fffu); }
inline __half __hmax(__half a, __half b) { return __hisnan(a) ? b : (__hisnan(b) ? a : (float(a) >= float(b) ? a : b)); }
inline __half __hmin(__half a, __half b) { return __hisnan(a) ? b : (__hisnan(b) ? a : (float(a) <= float(b) ? a : b)); }
inline __half2 __hadd2(__half2 a, __half2 b) { return __half2(__hadd(a.x, b.x), __hadd(a.y, b.y)); }
inline __half2 __hsub2(__half2 a, __half2 b) { return __half2(__hsub(a.x, b.x), __hsub(a.y, b.y)); }
inline __half2 __hmul2(__half2 a, __half2 b) { return __half2(__hmul(a.x, b.x), __hmul(a.y, b.y)); }
inline __half2 __hfma2(__half2 a, __half2 b, __half2 c) { return __half2(__hfma(a.x, b.x, c.x), __hfma(a.y, b.y, c.y)); }
inline __half2 __hmax2(__half2 a, __half2 b) { return __half2(__hmax(a.x, b.x), __hmax(a.y, b.y)); }

inline __half operator+(__half a, __half b) { return __hadd(a, b); }
inline __half operator-(__half a, __half b) { return __hsub(a, b); }
inline __half operator*(__half a, __half b) { return __hmul(a, b); }
inline __half operator/(__half a, __half b) { return __hdiv(a, b); }
inline __half operator-(__half a) { return __hneg(a); }
inline __half& operator+=(__half& a, __half b) { return a = a + b; }
inline __half& operator-=(__half& a, __half b) { return a = a - b; }
inline __half& operator*=(__half& a, __half b) { return a = a * b; }
inline __half& operator/=(__half& a, __half b) { return a = a / b; }
inline bool operator==(__half a, __half b) { return float(a) == float(b); }
inline bool operator!=(__half a, __half b) { return float(a) != float(b); }
inline bool operator<(__half a, __half b) { return float(a) < float(b); }
inline bool operator>(__half a, __half b) { return float(a) > float(b); }
inline bool operator<=(__half a, __half b) { return float(a) <= float(b); }
inline bool operator>=(__half a, __half b) { return float(a) >= float(b); }
inline __half2 operator+(__half2 a, __half2 b) { return __hadd2(a, b); }
inline __half2 operator-(__half2 a, __half2 b) { return __hsub2(a, b); }
inline __half2 operator*(__half2 a, __half2 b) { return __hmul2(a, b); }

// --- bf16 ---------------------------------------------------------------------------------------
inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short u) { return __nv_bfloat16(__nv_bfloat16_raw{u}); }
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 h) { return h.__x; }
inline __nv_bfloat16 __float2bfloat16(float f) { return __nv_bfloat16(f); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __nv_bfloat16(f); }
inline float __bfloat162float(__nv_bfloat16 h) { return static_cast<float>(h); }
inline __nv_bfloat162 __floats2bfloat162_rn(float a, float b) { return __nv_bfloat162(__nv_bfloat16(a), __nv_bfloat16(b)); }
inline __nv_bfloat162 __float2bfloat162_rn(float a) { return __floats2bfloat162_rn(a, a); }
inline __nv_bfloat162 __float22bfloat162_rn(float2 v) { return __floats2bfloat162_rn(v.x, v.y); }
inline float2 __bfloat1622float2(__nv_bfloat162 h) { return float2{float(h.x), float(h.y)}; }
inline float __low2float(__nv_bfloat162 h) { return float(h.x); }
inline float __high2float(__nv_bfloat162 h) { return float(h.y); }
inline __nv_bfloat16 __low2bfloat16(__nv_bfloat162 h) { return h.x; }
inline __nv_bfloat16 __high2bfloat16(__nv_bfloat162 h) { return h.y; }
inline __nv_bfloat162 __halves2bfloat162(__nv_bfloat16 lo, __nv_bfloat16 hi) { return __nv_bfloat162(lo, hi); }
inline __nv_bfloat162 __bfloat162bfloat162(__nv_bfloat16 h) { return __nv_bfloat162(h, h); }
inline __nv_bfloat162 make_bfloat162(__nv_bfloat16 x, __nv_bfloat16 y) { return __nv_bfloat162(x, y); }
inline bool __hisnan(__nv_bfloat16 h) { return (h.__x & 0x7f80u) == 0x7f80u && (h.__x & 0x7fu) != 0; }

inline __nv_bfloat16 __hadd(__nv_bfloat16 a, __nv_bfloat16 b) { return __nv_bfloat16(float(a) + float(b)); }
inline __nv_bfloat16 __hsub(__nv_bfloat16 a, __nv_bfloat16 b) { return __nv_bfloat16(float(a) - float(b)); }
inline __nv_bfloat16 __hmul(__nv_bfloat16 a, __nv_bfloat16 b) { return __nv_bfloat16(float(a) * float(b)); }
inline __nv_bfloat16 __hdiv(__nv_bfloat16 a, __nv_bfloat16 b) { return __nv_bfloat16(float(a) / float(b)); }
inline __nv_bfloat16 __hfma(__nv_bfloat16 a, __nv_bfloat16 b, __nv_bfloat16 c) {
  return __nv_bfloat16(fma_round_to_odd(float(a), float(b), float(c)));
}
inline __nv_bfloat16 __hneg(__nv_bfloat16 a) { return __ushort_as_bfloat16(a.__x ^ 0x8000u); }
inline __nv_bfloat162 __hadd2(__nv_bfloat162 a, __nv_bfloat162 b) { return __nv_bfloat162(__hadd(a.x, b.x), __hadd(a.y, b.y)); }
inline __nv_bfloat162 __hmul2(__nv_bfloat162 a, __nv_bfloat162 b) { return __nv_bfloat162(__hmul(a.x, b.x), __hmul(a.y, b.y)); }
inline __nv_bfloat162 __hfma2(__nv_bfloat162 a, __nv_bfloat162 b, __nv_bfloat162 c) {
  return __nv_bfloat162(__hfma(a.x, b.x, c.x), __hfma(a.y, b.y, c.y));
}

inline __nv_bfloat16 operator+(__nv_bfloat16 a, __nv_bfloat16 b) { return __hadd(a, b); }
inline __nv_bfloat16 operator-(__nv_bfloat16 a, __nv_bfloat16 b) { return __hsub(a, b); }
inline __nv_bfloat16 operator*(__nv_bfloat16 a, __nv_bfloat16 b) { return __hmul(a, b); }
inline __nv_bfloat16 operator/(__nv_bfloat16 a, __nv_bfloat16 b) { return __hdiv(a, b); }
inline __nv_bfloat16 operator-(__nv_bfloat16 a) { return __hneg(a); }
inline __nv_bfloat16& operator+=(__nv_bfloat16& a, __nv_bfloat16 b) { return a = a + b; }
inline __nv_bfloat16& operator*=(__nv_bfloat16& a, __nv_bfloat16 b) { return a = a * b; }
inline bool operator==(__nv_bfloat16 a, __nv_bfloat16 b) { return float(a) == float(b); }
inline bool operator!=(__nv_bfloat16 a, __nv_bfloat16 b) { return float(a) != float(b); }
inline bool operator<(__nv_bfloat16 a, __nv_bfloat16 b) { return float(a) < float(b); }
inline bool operator>(__nv_bfloat16 a, __nv_bfloat16 b) { return float(a) > float(b); }

}  // namespace cuclip::emu

using cuclip::emu::__half;
using cuclip::emu::__half2;
using cuclip::emu::__half_raw;
using cuclip::emu::__nv_bfloat16;
using cuclip::emu::__nv_bfloat162;
using cuclip::emu::__nv_bfloat16_raw;
using cuclip::emu::half;
using cuclip::emu::half2;
using cuclip::emu::nv_bfloat16;
using cuclip::emu::nv_bfloat162;
using cuclip::emu::__bfloat1622float2;
using cuclip::emu::__bfloat162bfloat162;
using cuclip::emu::__bfloat162float;
using cuclip::emu::__bfloat16_as_ushort;
using cuclip::emu::__float22bfloat162_rn;
using cuclip::emu::__float22half2_rn;
using cuclip::emu::__float2bfloat162_rn;
using cuclip::emu::__float2bfloat16;
using cuclip::emu::__float2bfloat16_rn;
using cuclip::emu::__float2half;
using cuclip::emu::__float2half2_rn;
using cuclip::emu::__float2half_rn;
using cuclip::emu::__floats2bfloat162_rn;
using cuclip::emu::__floats2half2_rn;
using cuclip::emu::__habs;
using cuclip::emu::__hadd;
using cuclip::emu::__hadd2;
using cuclip::emu::__half22float2;
using cuclip::emu::__half2float;
using cuclip::emu::__half2half2;
using cuclip::emu::__half_as_short;
using cuclip::emu::__half_as_ushort;
using cuclip::emu::__halves2bfloat162;
using cuclip::emu::__halves2half2;
using cuclip::emu::__hdiv;
using cuclip::emu::__hfma;
using cuclip::emu::__hfma2;
using cuclip::emu::__high2bfloat16;
using cuclip::emu::__high2float;
using cuclip::emu::__high2half;
using cuclip::emu::__hisinf;
using cuclip::emu::__hisnan;
using cuclip::emu::__hmax;
using cuclip::emu::__hmax2;
using cuclip::emu::__hmin;
using cuclip::emu::__hmul;
using cuclip::emu::__hmul2;
using cuclip::emu::__hneg;
using cuclip::emu::__hsub;
using cuclip::emu::__hsub2;
using cuclip::emu::__int2half_rn;
using cuclip::emu::__low2bfloat16;
using cuclip::emu::__low2float;
using cuclip::emu::__low2half;
using cuclip::emu::__short_as_half;
using cuclip::emu::__ushort_as_bfloat16;
using cuclip::emu::__ushort_as_half;
using cuclip::emu::make_bfloat162;
using cuclip::emu::make_half2;
