// AVX-512F GEMM microkernel: a 12 x 32 register tile (24 zmm accumulators, 2 for the W row, 1 for the
// broadcast A element, of the 32 zmm registers). Compiled with a target attribute so that the rest of
// the build stays baseline x86-64; only called after __builtin_cpu_supports said yes.
#include <immintrin.h>

#include "gemm_internal.hpp"

// glibc's vector math library (libmvec, glibc >= 2.35), named by the x86-64 vector function ABI.
extern "C" {
__attribute__((target("avx512f"))) __m512 _ZGVeN16v_expf(__m512);
__attribute__((target("avx512f"))) __m512 _ZGVeN16v_erff(__m512);
}

namespace cuclip::cpu::detail {
namespace {

constexpr int kMr = 12, kNr = 32;

template <int R>
__attribute__((target("avx512f"))) void kernel_avx512(int kc, const float* a, const float* b, float* c, int ldc,
                                                      bool accumulate) {
  __m512 c0[R], c1[R];
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i) {
    c0[i] = accumulate ? _mm512_loadu_ps(c + i * ldc) : _mm512_setzero_ps();
    c1[i] = accumulate ? _mm512_loadu_ps(c + i * ldc + 16) : _mm512_setzero_ps();
  }
  for (int k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      c0[i] = _mm512_fmadd_ps(ai, b0, c0[i]);
      c1[i] = _mm512_fmadd_ps(ai, b1, c1[i]);
    }
    a += kMr;
    b += kNr;
  }
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i) {
    _mm512_storeu_ps(c + i * ldc, c0[i]);
    _mm512_storeu_ps(c + i * ldc + 16, c1[i]);
  }
}

// The activations in the same formula as activate_one(), with libmvec's expf/erff (within 1-2 ulp,
// like the scalar ones) so that an MLP layer's epilogue stays a few percent of its GEMM.
__attribute__((target("avx512f"))) void activate_avx512(Act act, float* x, int n) {
  if (act == Act::QuickGelu) {
    const __m512 k = _mm512_set1_ps(-1.702f), one = _mm512_set1_ps(1.0f);
    for (int j = 0; j < n; j += 16) {
      const __m512 v = _mm512_load_ps(x + j);
      const __m512 e = _ZGVeN16v_expf(_mm512_mul_ps(k, v));
      _mm512_store_ps(x + j, _mm512_mul_ps(v, _mm512_div_ps(one, _mm512_add_ps(one, e))));
    }
  } else if (act == Act::GeluErf) {
    const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f), rsqrt2 = _mm512_set1_ps(0.70710678118654752f);
    for (int j = 0; j < n; j += 16) {
      const __m512 v = _mm512_load_ps(x + j);
      const __m512 e = _ZGVeN16v_erff(_mm512_mul_ps(v, rsqrt2));
      _mm512_store_ps(x + j, _mm512_mul_ps(_mm512_mul_ps(half, v), _mm512_add_ps(one, e)));
    }
  }
}

// 16 x 16 transpose by four butterfly rounds: round `bit` swaps bit `bit` of the row index with bit
// `bit` of the column index, pairing rows r and r | (1 << bit); each output row is one two-source
// permute (vpermt2ps). (The unpack/shuffle formulation trips GCC 12's -Wmaybe-uninitialized inside
// its own intrinsic headers.)
struct TransposeIdx {
  alignas(64) int lo[4][16];
  alignas(64) int hi[4][16];
};
constexpr TransposeIdx make_transpose_idx() {
  TransposeIdx t{};
  for (int bit = 0; bit < 4; ++bit)
    for (int c = 0; c < 16; ++c) {
      const int m = 1 << bit;
      const bool set = (c & m) != 0;
      t.lo[bit][c] = set ? 16 + (c & ~m) : c;  // from y when the column bit is set
      t.hi[bit][c] = set ? 16 + c : (c | m);
    }
  return t;
}
constexpr TransposeIdx kTransposeIdx = make_transpose_idx();

__attribute__((target("avx512f"))) inline void transpose16(__m512 r[16]) {
  for (int bit = 0; bit < 4; ++bit) {
    const __m512i lo = _mm512_load_si512(kTransposeIdx.lo[bit]), hi = _mm512_load_si512(kTransposeIdx.hi[bit]);
    const int m = 1 << bit;
    for (int i = 0; i < 16; ++i) {
      if (i & m) continue;
      const __m512 x = r[i], y = r[i | m];
      r[i] = _mm512_permutex2var_ps(x, lo, y);
      r[i | m] = _mm512_permutex2var_ps(x, hi, y);
    }
  }
}

// W panel packing by 16 x 16 register transposes (~5x faster than the generic scalar loop; gemm()
// packs on every call). Partial panels and the k tail go through the generic packer.
__attribute__((target("avx512f"))) void pack_w_avx512(const float* src, size_t ld, int rows, int kc, float* dst) {
  if (rows < kNr) {
    pack_panel(src, ld, rows, kNr, kc, dst);
    return;
  }
  const int kfull = kc / 16 * 16;
  __m512 r[16];
  for (int k0 = 0; k0 < kfull; k0 += 16)
    for (int half = 0; half < kNr / 16; ++half) {
      for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + (half * 16 + i) * ld + k0);
      transpose16(r);
      for (int c = 0; c < 16; ++c) _mm512_store_ps(dst + static_cast<size_t>(k0 + c) * kNr + half * 16, r[c]);
    }
  if (kfull < kc) pack_panel(src + kfull, ld, rows, kNr, kc - kfull, dst + static_cast<size_t>(kfull) * kNr);
}

}  // namespace

const KernelSet& avx512_kernels() {
  static const KernelSet set = {
      Isa::Avx512, kMr, kNr, 256, 240, 256, activate_avx512, pack_w_avx512,
      {kernel_avx512<1>, kernel_avx512<2>, kernel_avx512<3>, kernel_avx512<4>, kernel_avx512<5>, kernel_avx512<6>,
       kernel_avx512<7>, kernel_avx512<8>, kernel_avx512<9>, kernel_avx512<10>, kernel_avx512<11>,
       kernel_avx512<12>}};
  return set;
}

}  // namespace cuclip::cpu::detail
