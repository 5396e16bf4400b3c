// Row-wise ops of the CLIP forward pass: LayerNorm, softmax, L2 normalisation. Statistics are
// accumulated in double so that they are at least as exact as PyTorch's fp32 kernels (which use
// Welford / pairwise sums); rows are independent, so threading cannot change the result.
#include <cmath>

#include "cuclip/cpu_ops.hpp"

namespace cuclip::cpu {

void layernorm(int rows, int C, const float* x, int ldx, const float* w, const float* b, float eps, float* y,
               int ldy) {
  if (rows <= 0 || C <= 0) return;
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + static_cast<size_t>(r) * ldx;
    float* yr = y + static_cast<size_t>(r) * ldy;
    double sum = 0;
    for (int c = 0; c < C; ++c) sum += xr[c];
    const double mean = sum / C;
    double sq = 0;  // two-pass variance: no cancellation even when |mean| >> std
    for (int c = 0; c < C; ++c) {
      const double d = xr[c] - mean;
      sq += d * d;
    }
    const double rstd = 1.0 / std::sqrt(sq / C + static_cast<double>(eps));
    for (int c = 0; c < C; ++c) {
      double v = (xr[c] - mean) * rstd;
      if (w) v *= w[c];
      if (b) v += b[c];
      yr[c] = static_cast<float>(v);
    }
  }
}

void softmax_rows(int rows, int N, float* x) {
  if (rows <= 0 || N <= 0) return;
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r) {
    float* xr = x + static_cast<size_t>(r) * N;
    float mx = -INFINITY;
    for (int j = 0; j < N; ++j) mx = std::fmax(mx, xr[j]);
    if (mx == -INFINITY) {  // every entry masked: no distribution to speak of
      for (int j = 0; j < N; ++j) xr[j] = 0.0f;
      continue;
    }
    double sum = 0;
    for (int j = 0; j < N; ++j) {
      xr[j] = std::exp(xr[j] - mx);
      sum += xr[j];
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (int j = 0; j < N; ++j) xr[j] *= inv;
  }
}

void l2_normalize_rows(int rows, int D, float* x) {
  if (rows <= 0 || D <= 0) return;
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r) {
    float* xr = x + static_cast<size_t>(r) * D;
    double sq = 0;
    for (int j = 0; j < D; ++j) sq += static_cast<double>(xr[j]) * xr[j];
    const double norm = std::sqrt(sq);
    if (norm == 0.0) continue;  // all zeros stay zeros (torch would give 0/0 = NaN)
    for (int j = 0; j < D; ++j) xr[j] = static_cast<float>(xr[j] / norm);
  }
}

}  // namespace cuclip::cpu
