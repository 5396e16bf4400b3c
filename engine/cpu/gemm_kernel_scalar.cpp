// Portable GEMM microkernel: the fallback for CPUs without AVX2+FMA. Plain C++ over a 4 x 16 tile; the
// compiler vectorises the j loop with whatever the baseline ISA offers (SSE2 on x86-64). A separate
// multiply and add (two roundings) rather than std::fma, which is a slow library call on CPUs without
// FMA: results differ from the SIMD kernels in the last bits only.

#include "gemm_internal.hpp"

namespace cuclip::cpu::detail {
namespace {

constexpr int kMr = 4, kNr = 16;

template <int R>
void kernel_scalar(int kc, const float* a, const float* b, float* c, int ldc, bool accumulate) {
  float acc[R][kNr];
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < kNr; ++j) acc[i][j] = accumulate ? c[i * ldc + j] : 0.0f;
  for (int k = 0; k < kc; ++k) {
    const float* bk = b + k * kNr;
    for (int i = 0; i < R; ++i) {
      const float ai = a[k * kMr + i];
      for (int j = 0; j < kNr; ++j) acc[i][j] += ai * bk[j];
    }
  }
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < kNr; ++j) c[i * ldc + j] = acc[i][j];
}

void pack_w_scalar(const float* src, size_t ld, int rows, int kc, float* dst) {
  pack_panel(src, ld, rows, kNr, kc, dst);
}

void activate_scalar(Act act, float* x, int n) {
  for (int j = 0; j < n; ++j) x[j] = activate_one(act, x[j]);
}

}  // namespace

const KernelSet& scalar_kernels() {
  static const KernelSet set = {Isa::Scalar, kMr, kNr, 256, 64, 256, activate_scalar, pack_w_scalar,
                                {kernel_scalar<1>, kernel_scalar<2>, kernel_scalar<3>, kernel_scalar<4>}};
  return set;
}

}  // namespace cuclip::cpu::detail
