// Device intrinsics for the CPU emulator: atomics, fences, the fast-math and bit functions, cache
// hinted loads/stores, and CUDA's global min/max overloads.
//
// The fast-math intrinsics (__expf, __logf, __fdividef, ...) are computed with the accurate libm
// function: the GPU's approximations differ by a few ulp, so tests compare with tolerances.
#pragma once
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>

// --- atomics: relaxed, like CUDA's, and real atomics because blocks run on several host threads ---
namespace cuclip::emu {
template <class T>
inline std::atomic_ref<T> atomic_at(T* p) { return std::atomic_ref<T>(*p); }

template <class T, class F>
inline T atomic_update(T* p, F f) {
  auto ref = atomic_at(p);
  T old = ref.load(std::memory_order_relaxed);
  while (!ref.compare_exchange_weak(old, f(old), std::memory_order_relaxed)) {
  }
  return old;
}
}  // namespace cuclip::emu

#define CUCLIP_EMU_ATOMIC_INT_OPS(T)                                                                          \
  inline T atomicAdd(T* p, T v) { return cuclip::emu::atomic_at(p).fetch_add(v, std::memory_order_relaxed); } \
  inline T atomicSub(T* p, T v) { return cuclip::emu::atomic_at(p).fetch_sub(v, std::memory_order_relaxed); } \
  inline T atomicExch(T* p, T v) { return cuclip::emu::atomic_at(p).exchange(v, std::memory_order_relaxed); } \
  inline T atomicAnd(T* p, T v) { return cuclip::emu::atomic_at(p).fetch_and(v, std::memory_order_relaxed); } \
  inline T atomicOr(T* p, T v) { return cuclip::emu::atomic_at(p).fetch_or(v, std::memory_order_relaxed); }   \
  inline T atomicXor(T* p, T v) { return cuclip::emu::atomic_at(p).fetch_xor(v, std::memory_order_relaxed); } \
  inline T atomicMax(T* p, T v) { return cuclip::emu::atomic_update(p, [v](T o) { return o > v ? o : v; }); }   \
  inline T atomicMin(T* p, T v) { return cuclip::emu::atomic_update(p, [v](T o) { return o < v ? o : v; }); }   \
  inline T atomicCAS(T* p, T compare, T v) {                                                                  \
    cuclip::emu::atomic_at(p).compare_exchange_strong(compare, v, std::memory_order_relaxed);                 \
    return compare;                                                                                           \
  }
CUCLIP_EMU_ATOMIC_INT_OPS(int)
CUCLIP_EMU_ATOMIC_INT_OPS(unsigned int)
CUCLIP_EMU_ATOMIC_INT_OPS(long long)
CUCLIP_EMU_ATOMIC_INT_OPS(unsigned long long)
#undef CUCLIP_EMU_ATOMIC_INT_OPS

inline float atomicAdd(float* p, float v) { return cuclip::emu::atomic_at(p).fetch_add(v, std::memory_order_relaxed); }
inline double atomicAdd(double* p, double v) { return cuclip::emu::atomic_at(p).fetch_add(v, std::memory_order_relaxed); }
inline float atomicExch(float* p, float v) { return cuclip::emu::atomic_at(p).exchange(v, std::memory_order_relaxed); }
inline unsigned int atomicInc(unsigned int* p, unsigned int limit) {
  return cuclip::emu::atomic_update(p, [limit](unsigned int o) { return o >= limit ? 0u : o + 1; });
}
inline unsigned int atomicDec(unsigned int* p, unsigned int limit) {
  return cuclip::emu::atomic_update(p, [limit](unsigned int o) { return (o == 0 || o > limit) ? limit : o - 1; });
}
template <class T, class V>
inline T atomicAdd_block(T* p, V v) { return atomicAdd(p, static_cast<T>(v)); }
template <class T, class V>
inline T atomicAdd_system(T* p, V v) { return atomicAdd(p, static_cast<T>(v)); }

inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_signal_fence(std::memory_order_seq_cst); }
inline void __threadfence_system() { std::atomic_thread_fence(std::memory_order_seq_cst); }

// --- loads and stores with cache hints: plain accesses here ---
template <class T> inline T __ldg(const T* p) { return *p; }
template <class T> inline T __ldcg(const T* p) { return *p; }
template <class T> inline T __ldca(const T* p) { return *p; }
template <class T> inline T __ldcs(const T* p) { return *p; }
template <class T> inline T __ldlu(const T* p) { return *p; }
template <class T> inline void __stcg(T* p, T v) { *p = v; }
template <class T> inline void __stcs(T* p, T v) { *p = v; }
template <class T> inline void __stwb(T* p, T v) { *p = v; }
inline size_t __cvta_generic_to_shared(const void* p) { return reinterpret_cast<size_t>(p); }

// --- math ---
using std::isfinite;
using std::isinf;
using std::isnan;
using std::signbit;
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __exp10f(float x) { return std::pow(10.0f, x); }
inline float __logf(float x) { return std::log(x); }
inline float __log2f(float x) { return std::log2(x); }
inline float __sinf(float x) { return std::sin(x); }
inline float __cosf(float x) { return std::cos(x); }
inline float __tanf(float x) { return std::tan(x); }
inline float __powf(float x, float y) { return std::pow(x, y); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return std::sqrt(x); }
inline float __frsqrt_rn(float x) { return 1.0f / std::sqrt(x); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline float __saturatef(float x) { return x != x ? 0.0f : (x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x)); }
inline void __sincosf(float x, float* s, float* c) { *s = std::sin(x); *c = std::cos(x); }
inline void sincosf(float x, float* s, float* c) { *s = std::sin(x); *c = std::cos(x); }

inline int __float_as_int(float f) { int i; std::memcpy(&i, &f, 4); return i; }
inline unsigned int __float_as_uint(float f) { unsigned int i; std::memcpy(&i, &f, 4); return i; }
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline float __uint_as_float(unsigned int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline long long __double_as_longlong(double d) { long long i; std::memcpy(&i, &d, 8); return i; }
inline double __longlong_as_double(long long i) { double d; std::memcpy(&d, &i, 8); return d; }
inline int __float2int_rn(float x) { return static_cast<int>(std::nearbyint(x)); }
inline int __float2int_rz(float x) { return static_cast<int>(x); }

inline int __popc(unsigned int x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x)); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll(static_cast<unsigned long long>(x)); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned int __brev(unsigned int x) {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
  return __builtin_bswap32(x);
}
inline unsigned int __umulhi(unsigned int a, unsigned int b) {
  return static_cast<unsigned int>((static_cast<unsigned long long>(a) * b) >> 32);
}
inline int __mulhi(int a, int b) { return static_cast<int>((static_cast<long long>(a) * b) >> 32); }
inline unsigned int __byte_perm(unsigned int x, unsigned int y, unsigned int s) {
  unsigned long long v = (static_cast<unsigned long long>(y) << 32) | x;
  unsigned int r = 0;
  for (int i = 0; i < 4; ++i) r |= static_cast<unsigned int>((v >> (8 * ((s >> (4 * i)) & 7))) & 0xff) << (8 * i);
  return r;
}

// CUDA declares min/max for arithmetic types in the global namespace for device code.
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned int min(unsigned int a, unsigned int b) { return a < b ? a : b; }
inline unsigned int max(unsigned int a, unsigned int b) { return a > b ? a : b; }
inline unsigned int min(int a, unsigned int b) { return min(static_cast<unsigned int>(a), b); }
inline unsigned int max(int a, unsigned int b) { return max(static_cast<unsigned int>(a), b); }
inline unsigned int min(unsigned int a, int b) { return min(a, static_cast<unsigned int>(b)); }
inline unsigned int max(unsigned int a, int b) { return max(a, static_cast<unsigned int>(b)); }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }
inline double min(double a, double b) { return std::fmin(a, b); }
inline double max(double a, double b) { return std::fmax(a, b); }
