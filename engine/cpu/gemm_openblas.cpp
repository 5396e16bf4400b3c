// gemm() through OpenBLAS: cblas_sgemm for A W^T, then our epilogue as a separate pass. Compiled only
// when CMake found OpenBLAS (CUCLIP_HAVE_OPENBLAS); otherwise gemm_openblas() reports "not built in".
//
// OpenBLAS (Debian's pthread build) keeps its own thread pool; we size it to omp_get_max_threads()
// before each call. Its sgemm splits work over M and N only, so results do not depend on the thread
// count in practice, but that is OpenBLAS's behaviour, not a guarantee we control.
#include <omp.h>

#include <atomic>
#include <vector>

#include "gemm_internal.hpp"

#if defined(CUCLIP_HAVE_OPENBLAS)
#include <cblas.h>
#endif

namespace cuclip::cpu::detail {

#if defined(CUCLIP_HAVE_OPENBLAS)
namespace {
std::atomic<int> g_blas_threads{0};

void epilogue_parallel(int M, int N, const float* acc, int ldacc, const float* bias, Act act,
                       const float* residual, int ldr, float* C, int ldc) {
  if (!bias && act == Act::None && !residual && acc == C && ldacc == ldc) return;
  const Activation activate = kernels_for(gemm_isa()).activate;
#pragma omp parallel for schedule(static)
  for (int i = 0; i < M; ++i)
    epilogue_rows(activate, 1, N, acc + static_cast<size_t>(i) * ldacc, ldacc, bias, act,
                  residual ? residual + static_cast<size_t>(i) * ldr : nullptr, ldr, C + static_cast<size_t>(i) * ldc,
                  ldc);
}
}  // namespace

bool gemm_openblas(int M, int N, int K, const float* A, int lda, const float* W, int ldw, const float* bias,
                   Act act, const float* residual, int ldr, float* C, int ldc) {
  // K == 0 would make OpenBLAS's argument checker complain (lda >= max(1, K)) — and it prints; our
  // own path handles the empty sum.
  if (K <= 0) return false;
  const int threads = omp_get_max_threads();
  if (g_blas_threads.exchange(threads) != threads) openblas_set_num_threads(threads);
  if (residual == C) {
    // The product cannot go into C: C still holds the residual that the epilogue adds after act().
    std::vector<float> tmp(static_cast<size_t>(M) * N);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, lda, W, ldw, 0.0f, tmp.data(), N);
    epilogue_parallel(M, N, tmp.data(), N, bias, act, residual, ldr, C, ldc);
  } else {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, lda, W, ldw, 0.0f, C, ldc);
    epilogue_parallel(M, N, C, ldc, bias, act, residual, ldr, C, ldc);
  }
  return true;
}
#else
bool gemm_openblas(int, int, int, const float*, int, const float*, int, const float*, Act, const float*, int, float*,
                   int) {
  return false;
}
#endif

}  // namespace cuclip::cpu::detail
