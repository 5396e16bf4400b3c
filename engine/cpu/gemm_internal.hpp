// Internals shared by the GEMM driver (gemm.cpp), the per-ISA microkernels (gemm_kernel_*.cpp) and
// the OpenBLAS path (gemm_openblas.cpp). Not part of the public API.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>

#include "cuclip/cpu_ops.hpp"

namespace cuclip::cpu::detail {

// 64-byte aligned float array (one cache line, one zmm register); memory from operator new so an
// allocation failure is std::bad_alloc like everywhere else.
struct AlignedFloats {
  float* ptr = nullptr;
  size_t count = 0;
  AlignedFloats() = default;
  explicit AlignedFloats(size_t n) : ptr(n ? static_cast<float*>(::operator new(n * sizeof(float), std::align_val_t{64})) : nullptr), count(n) {}
  AlignedFloats(const AlignedFloats&) = delete;
  AlignedFloats& operator=(const AlignedFloats&) = delete;
  AlignedFloats(AlignedFloats&& o) noexcept : ptr(o.ptr), count(o.count) { o.ptr = nullptr; o.count = 0; }
  AlignedFloats& operator=(AlignedFloats&& o) noexcept {
    std::swap(ptr, o.ptr);
    std::swap(count, o.count);
    return *this;
  }
  ~AlignedFloats() {
    if (ptr) ::operator delete(ptr, std::align_val_t{64});
  }
};

// c[i*ldc + j] = (accumulate ? c[i*ldc + j] : 0) + sum_{k<kc} a[k*mr + i] * b[k*nr + j]
// for i < rows (the template/table index) and j < nr. a is an A panel (mr rows interleaved per k,
// rows beyond `rows` ignored), b a W panel (nr columns interleaved per k, zero-padded past N).
// Each c element is one sequential chain of fused multiply-adds in increasing k.
using MicroKernel = void (*)(int kc, const float* a, const float* b, float* c, int ldc, bool accumulate);

constexpr int kMaxMr = 16;

// Packs one W panel: dst[k * nr + j] = src[j * ld + k] for k < kc, j < rows (rows <= nr), zeros for
// rows <= j < nr. A transposition; worth a SIMD version because gemm() does it on every call.
using PackWPanel = void (*)(const float* src, size_t ld, int rows, int kc, float* dst);

// x[j] = act(x[j]) for j < n, vectorised; n must be a multiple of kActChunkAlign (callers pad).
using Activation = void (*)(Act act, float* x, int n);
constexpr int kActChunkAlign = 16;

struct KernelSet {
  Isa isa;
  int mr, nr;             // register tile
  int kc;                 // K block: a kc x nr W panel slice should sit in L1
  int mc_max, nc_max;     // C tile owned by one thread at a time (its A block sits in L2)
  Activation activate;
  PackWPanel pack_w;
  MicroKernel by_rows[kMaxMr];  // by_rows[r-1] handles an A panel with r valid rows
};

// The generic packer: dst[k * width + j] = src[j * ld + k] (k < kc, j < rows), zero for rows <= j < width.
void pack_panel(const float* src, size_t ld, int rows, int width, int kc, float* dst);

const KernelSet& scalar_kernels();
const KernelSet& avx2_kernels();    // only call when isa_supported(Isa::Avx2)
const KernelSet& avx512_kernels();  // only call when isa_supported(Isa::Avx512)
const KernelSet& kernels_for(Isa isa);

}  // namespace cuclip::cpu::detail

namespace cuclip::cpu {

// W laid out as ceil(N/nr) panels; panel p holds columns p*nr .. p*nr+nr-1 of W^T as K rows of nr
// floats (k-major), zero-padded past N. A K-block [k0, k0+kc) of a panel is then contiguous.
struct PackedW {
  int N = 0, K = 0;
  Isa isa = Isa::Scalar;
  int nr = 0;
  detail::AlignedFloats data;
  const float* panel(int p) const { return data.ptr + static_cast<size_t>(p) * K * nr; }
};

namespace detail {
// y = act(acc + bias) + residual over a rows x cols block; acc may be y itself (in-place), residual may
// be y itself. `activate` is the kernel set's vectorised activation.
void epilogue_rows(Activation activate, int rows, int cols, const float* acc, int ldacc, const float* bias, Act act,
                   const float* residual, int ldr, float* y, int ldy);
// The reference activation, one element (scalar fallback and vector tails).
inline float activate_one(Act act, float v);
// OpenBLAS sgemm + epilogue; defined in gemm_openblas.cpp (returns false when not built in).
bool gemm_openblas(int M, int N, int K, const float* A, int lda, const float* W, int ldw, const float* bias,
                   Act act, const float* residual, int ldr, float* C, int ldc);
inline float activate_one(Act act, float v) {
  switch (act) {
    case Act::None: return v;
    // Written as PyTorch does: x * sigmoid(1.702 x), sigmoid(z) = 1 / (1 + exp(-z)).
    case Act::QuickGelu: return v * (1.0f / (1.0f + std::exp(-1.702f * v)));
    case Act::GeluErf: return 0.5f * v * (1.0f + std::erf(v * 0.70710678118654752f));
  }
  return v;
}
}  // namespace detail

}  // namespace cuclip::cpu
