// AVX2+FMA GEMM microkernel: a 6 x 16 register tile (12 ymm accumulators, 2 for the W row, 1 for the
// broadcast A element — 15 of the 16 ymm registers). Compiled with a target attribute so that the rest
// of the build stays baseline x86-64; only called after __builtin_cpu_supports said yes.
#include <immintrin.h>

#include "gemm_internal.hpp"

// glibc's vector math library (libmvec, glibc >= 2.35), named by the x86-64 vector function ABI.
extern "C" {
__attribute__((target("avx2"))) __m256 _ZGVdN8v_expf(__m256);
__attribute__((target("avx2"))) __m256 _ZGVdN8v_erff(__m256);
}

namespace cuclip::cpu::detail {
namespace {

constexpr int kMr = 6, kNr = 16;

template <int R>
__attribute__((target("avx2,fma"))) void kernel_avx2(int kc, const float* a, const float* b, float* c, int ldc,
                                                     bool accumulate) {
  __m256 c0[R], c1[R];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) {
    c0[i] = accumulate ? _mm256_loadu_ps(c + i * ldc) : _mm256_setzero_ps();
    c1[i] = accumulate ? _mm256_loadu_ps(c + i * ldc + 8) : _mm256_setzero_ps();
  }
  for (int k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
      c0[i] = _mm256_fmadd_ps(ai, b0, c0[i]);
      c1[i] = _mm256_fmadd_ps(ai, b1, c1[i]);
    }
    a += kMr;
    b += kNr;
  }
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) {
    _mm256_storeu_ps(c + i * ldc, c0[i]);
    _mm256_storeu_ps(c + i * ldc + 8, c1[i]);
  }
}


// The activations in the same formula as activate_one(), with libmvec's expf/erff (within 1-2 ulp,
// like the scalar ones) so that an MLP layer's epilogue stays a few percent of its GEMM.
__attribute__((target("avx2,fma"))) void activate_avx2(Act act, float* x, int n) {
  if (act == Act::QuickGelu) {
    const __m256 k = _mm256_set1_ps(-1.702f), one = _mm256_set1_ps(1.0f);
    for (int j = 0; j < n; j += 8) {
      const __m256 v = _mm256_load_ps(x + j);
      const __m256 e = _ZGVdN8v_expf(_mm256_mul_ps(k, v));
      _mm256_store_ps(x + j, _mm256_mul_ps(v, _mm256_div_ps(one, _mm256_add_ps(one, e))));
    }
  } else if (act == Act::GeluErf) {
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f), rsqrt2 = _mm256_set1_ps(0.70710678118654752f);
    for (int j = 0; j < n; j += 8) {
      const __m256 v = _mm256_load_ps(x + j);
      const __m256 e = _ZGVdN8v_erff(_mm256_mul_ps(v, rsqrt2));
      _mm256_store_ps(x + j, _mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, e)));
    }
  }
}

void pack_w_avx2(const float* src, size_t ld, int rows, int kc, float* dst) {
  pack_panel(src, ld, rows, kNr, kc, dst);  // the generic one: AVX2 is not this machine's hot path
}

}  // namespace

const KernelSet& avx2_kernels() {
  static const KernelSet set = {Isa::Avx2, kMr, kNr, 256, 96, 256, activate_avx2, pack_w_avx2,
                                {kernel_avx2<1>, kernel_avx2<2>, kernel_avx2<3>, kernel_avx2<4>, kernel_avx2<5>,
                                 kernel_avx2<6>}};
  return set;
}

}  // namespace cuclip::cpu::detail
