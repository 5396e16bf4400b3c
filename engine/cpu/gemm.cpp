// Our fp32 GEMM: C = act(A W^T + bias) + residual, Goto/BLIS-style.
//
//   * W is packed once into nr-wide panels (pack_weights); gemm() instead packs each kc x nc block of
//     the caller's W inside the tile loop, by the thread that uses it.
//   * A is packed per call, one band of mc rows at a time, into mr-tall panels shared by all threads,
//     so the microkernel reads both operands contiguously.
//   * Each band of C is cut into tiles of mc x nc; OpenMP threads take whole tiles. A tile accumulates over
//     all of K (in kc-sized blocks so the W panel slice stays in L1 and the A block in L2) into a
//     thread-private buffer, then the epilogue writes C once: act(acc + bias) + residual. Writing C
//     exactly once is what makes residual == C (in-place residual add) safe.
//   * Every C element is one chain of FMAs in increasing k, whatever the tiling or thread count, so
//     results are bit-identical for any number of threads (they differ between ISAs only in rounding).
// See docs/cpu_gemm.md for the measurements behind the block sizes.
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "gemm_internal.hpp"

namespace cuclip::cpu {
namespace detail {
namespace {

bool cpu_has(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return true;
    case Isa::Avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::Avx512: return __builtin_cpu_supports("avx512f");
    case Isa::Auto: return true;
  }
  return false;
}

Isa best_isa() {
  if (cpu_has(Isa::Avx512)) return Isa::Avx512;
  if (cpu_has(Isa::Avx2)) return Isa::Avx2;
  return Isa::Scalar;
}

std::atomic<Isa> g_isa{Isa::Auto};  // Auto until first use, then resolved

// Our kernel by default, OpenBLAS or not: it won every measurement in docs/cpu_gemm.md.
std::atomic<GemmBackend> g_backend{GemmBackend::Own};

int ceil_div(int a, int b) { return (a + b - 1) / b; }

}  // namespace

// The generic packing primitive: k goes in steps of 16 so that each source row contributes one cache
// line per step and the destination block being filled (16 x width floats) stays in L1.
void pack_panel(const float* src, size_t ld, int rows, int width, int kc, float* dst) {
  for (int k0 = 0; k0 < kc; k0 += 16) {
    const int kend = std::min(kc, k0 + 16);
    for (int j = 0; j < rows; ++j) {
      const float* s = src + j * ld;
      for (int k = k0; k < kend; ++k) dst[static_cast<size_t>(k) * width + j] = s[k];
    }
    for (int k = k0; k < kend; ++k)
      for (int j = rows; j < width; ++j) dst[static_cast<size_t>(k) * width + j] = 0.0f;
  }
}

namespace {

// Scratch owned by the calling thread that only grows: packing buffers are reused from call to call
// instead of being fresh allocations (a page fault per 4 KiB touched costs microseconds on a VM,
// enough to double the time of a small GEMM). Its size is bounded by the block sizes and K, not by M
// or N. It is allocated before any parallel region, so that std::bad_alloc reaches the caller instead
// of escaping an OpenMP region (which would terminate the process).
float* caller_scratch(size_t n) {
  static thread_local AlignedFloats buf;
  if (buf.count < n) {
    buf = AlignedFloats();  // free first: never hold old and new at once
    buf = AlignedFloats(n);
  }
  return buf.ptr;
}

size_t round_up16(size_t n) { return (n + 15) / 16 * 16; }  // keeps every slice 64-byte aligned

// C tile shape: as large as the cache budget allows, but cut N finer when there would be too few
// tiles to keep every thread busy (CLIP's M is often just 50 or 77 rows).
void choose_tiles(const KernelSet& ks, int M, int N, int threads, int& mc, int& nc) {
  mc = std::min(ceil_div(M, ks.mr) * ks.mr, ks.mc_max);
  nc = std::min(ceil_div(N, ks.nr) * ks.nr, ks.nc_max);
  // Threads share out the column tiles of one row band at a time, so count tiles per band.
  while (nc > ks.nr && ceil_div(N, nc) < 4 * threads)
    nc = std::max(ks.nr, (nc / 2) / ks.nr * ks.nr);
}

}  // namespace

const KernelSet& kernels_for(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return avx512_kernels();
    case Isa::Avx2: return avx2_kernels();
    default: return scalar_kernels();
  }
}

void epilogue_rows(Activation activate, int rows, int cols, const float* acc, int ldacc, const float* bias, Act act,
                   const float* residual, int ldr, float* y, int ldy) {
  // Through a small buffer: out may be the residual (read it before writing) or acc itself.
  constexpr int kChunk = 256;
  alignas(64) float tmp[kChunk];
  for (int i = 0; i < rows; ++i) {
    const float* a = acc + static_cast<size_t>(i) * ldacc;
    float* out = y + static_cast<size_t>(i) * ldy;
    const float* r = residual ? residual + static_cast<size_t>(i) * ldr : nullptr;
    for (int j0 = 0; j0 < cols; j0 += kChunk) {
      const int n = std::min(kChunk, cols - j0);
      const int padded = (n + kActChunkAlign - 1) / kActChunkAlign * kActChunkAlign;
      for (int j = 0; j < n; ++j) tmp[j] = a[j0 + j] + (bias ? bias[j0 + j] : 0.0f);
      if (act != Act::None) {
        for (int j = n; j < padded; ++j) tmp[j] = 0.0f;
        activate(act, tmp, padded);
      }
      if (r)
        for (int j = 0; j < n; ++j) out[j0 + j] = tmp[j] + r[j0 + j];
      else
        for (int j = 0; j < n; ++j) out[j0 + j] = tmp[j];
    }
  }
}

}  // namespace detail

using namespace detail;

bool isa_supported(Isa isa) { return cpu_has(isa); }

bool set_gemm_isa(Isa isa) {
  if (!cpu_has(isa)) return false;
  g_isa.store(isa == Isa::Auto ? best_isa() : isa);
  return true;
}

Isa gemm_isa() {
  Isa isa = g_isa.load();
  if (isa == Isa::Auto) {
    isa = best_isa();
    g_isa.store(isa);
  }
  return isa;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Auto: return "auto";
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "?";
}

bool have_openblas() {
#if defined(CUCLIP_HAVE_OPENBLAS)
  return true;
#else
  return false;
#endif
}

bool set_gemm_backend(GemmBackend b) {
  if (b == GemmBackend::OpenBlas && !have_openblas()) return false;
  g_backend.store(b);
  return true;
}

GemmBackend gemm_backend() { return g_backend.load(); }

std::shared_ptr<const PackedW> pack_weights(int N, int K, const float* W, int ldw) {
  auto pw = std::make_shared<PackedW>();
  const KernelSet& ks = kernels_for(gemm_isa());
  const int nr = ks.nr;
  pw->N = N;
  pw->K = K;
  pw->isa = ks.isa;
  pw->nr = nr;
  const int panels = ceil_div(N, nr);
  pw->data = AlignedFloats(static_cast<size_t>(panels) * K * nr);
  float* base = pw->data.ptr;
#pragma omp parallel for schedule(static)
  for (int p = 0; p < panels; ++p)
    ks.pack_w(W + static_cast<size_t>(p) * nr * ldw, ldw, std::min(nr, N - p * nr), K,
               base + static_cast<size_t>(p) * K * nr);
  return pw;
}

int packed_rows(const PackedW& w) { return w.N; }
int packed_cols(const PackedW& w) { return w.K; }

namespace {

// Where the microkernel gets its W panels from: a PackedW (whole-K panels, packed once per model), or
// the caller's raw W, packed per tile and K block into a thread-private buffer (the classic Goto
// scheme: each W block is packed by the one thread that consumes it, so gemm() needs no full-size
// copy of W and no extra pass over it when M fits in one row tile).
struct WSource {
  const PackedW* packed = nullptr;
  const float* raw = nullptr;
  int ldw = 0;
};

// Columns [n0, n0+nlen) x K block [k0, k0+kc) of the caller's W -> ceil(nlen/nr) panels of kc x nr.
void pack_w_block(const KernelSet& ks, const float* W, int ldw, int n0, int nlen, int k0, int kc, float* dst) {
  const int nr = ks.nr;
  for (int jp = 0; jp * nr < nlen; ++jp)
    ks.pack_w(W + static_cast<size_t>(n0 + jp * nr) * ldw + k0, ldw, std::min(nr, nlen - jp * nr), kc,
              dst + static_cast<size_t>(jp) * kc * nr);
}

void run_gemm(const KernelSet& ks, int M, int N, int K, const WSource& w, const float* A, int lda, const float* bias,
              Act act, const float* residual, int ldr, float* C, int ldc) {
  const int mr = ks.mr, nr = ks.nr;
  const int threads = omp_get_max_threads();
  int mc, nc;
  choose_tiles(ks, M, N, threads, mc, nc);
  const int tiles_n = ceil_div(N, nc);
  const int kc_max = std::max(1, std::min(ks.kc, K));
  // One scratch block: the A band (mc rows x all K, packed once per band by all threads together, then
  // shared), then per thread an accumulator tile and (unpacked W only) a W block.
  const size_t band_size = round_up16(static_cast<size_t>(mc) * std::max(K, 1));
  const size_t acc_size = round_up16(static_cast<size_t>(mc) * nc);
  const size_t wbuf_size = w.packed ? 0 : round_up16(static_cast<size_t>(nc) * kc_max);
  float* const scratch = caller_scratch(band_size + threads * (acc_size + wbuf_size));
  float* const band = scratch;

#pragma omp parallel num_threads(threads)
  {
    float* acc = scratch + band_size + omp_get_thread_num() * (acc_size + wbuf_size);
    float* wbuf = w.packed ? nullptr : acc + acc_size;
    for (int m0 = 0; m0 < M; m0 += mc) {  // every thread runs every band; the omp for's split the work
      const int mlen = std::min(mc, M - m0), mpanels = ceil_div(mlen, mr);
#pragma omp for schedule(static)
      for (int ip = 0; ip < mpanels; ++ip)
        pack_panel(A + static_cast<size_t>(m0 + ip * mr) * lda, lda, std::min(mr, mlen - ip * mr), mr, K,
                   band + static_cast<size_t>(ip) * K * mr);
      // (implicit barrier: the band is packed)
#pragma omp for schedule(dynamic, 1)
      for (int tn = 0; tn < tiles_n; ++tn) {
        const int n0 = tn * nc, nlen = std::min(nc, N - n0), npanels = ceil_div(nlen, nr);
        if (K == 0) std::memset(acc, 0, sizeof(float) * static_cast<size_t>(mc) * nc);
        for (int k0 = 0; k0 < K; k0 += ks.kc) {
          const int kc = std::min(ks.kc, K - k0);
          if (!w.packed) pack_w_block(ks, w.raw, w.ldw, n0, nlen, k0, kc, wbuf);
          for (int jp = 0; jp < npanels; ++jp) {
            const float* bp = w.packed ? w.packed->panel(n0 / nr + jp) + static_cast<size_t>(k0) * nr
                                       : wbuf + static_cast<size_t>(jp) * kc * nr;
            for (int ip = 0; ip < mpanels; ++ip) {
              const float* ap = band + static_cast<size_t>(ip) * K * mr + static_cast<size_t>(k0) * mr;
              const int rows = std::min(mr, mlen - ip * mr);
              ks.by_rows[rows - 1](kc, ap, bp, acc + static_cast<size_t>(ip) * mr * nc + jp * nr, nc, k0 > 0);
            }
          }
        }
        epilogue_rows(ks.activate, mlen, nlen, acc, nc, bias ? bias + n0 : nullptr, act,
                      residual ? residual + static_cast<size_t>(m0) * ldr + n0 : nullptr, ldr,
                      C + static_cast<size_t>(m0) * ldc + n0, ldc);
      }
      // (implicit barrier: nobody repacks the band while another thread still reads it)
    }
  }
}

}  // namespace

void gemm_packed(int M, const PackedW& W, const float* A, int lda, const float* bias, Act act,
                 const float* residual, int ldr, float* C, int ldc) {
  if (M <= 0 || W.N <= 0) return;
  WSource src;
  src.packed = &W;
  run_gemm(kernels_for(W.isa), M, W.N, W.K, src, A, lda, bias, act, residual, ldr, C, ldc);
}

void gemm(int M, int N, int K, const float* A, int lda, const float* W, int ldw, const float* bias, Act act,
          const float* residual, int ldr, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  if (gemm_backend() == GemmBackend::OpenBlas &&
      gemm_openblas(M, N, K, A, lda, W, ldw, bias, act, residual, ldr, C, ldc))
    return;
  WSource src;
  src.raw = W;
  src.ldw = ldw;
  run_gemm(kernels_for(gemm_isa()), M, N, K, src, A, lda, bias, act, residual, ldr, C, ldc);
}

}  // namespace cuclip::cpu
