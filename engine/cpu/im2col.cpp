// Patch extraction for the ViT patch embedding, so that the stride-P, kernel-P convolution becomes one
// GEMM against the conv weight viewed as [width, 3*P*P]. Pure data movement: exact.
#include <cstring>

#include "cuclip/cpu_ops.hpp"

namespace cuclip::cpu {

void im2col_patches(int B, int S, int P, const float* img, float* out) {
  if (B <= 0 || S <= 0 || P <= 0) return;
  const int G = S / P;  // patches per side
  const int cols = 3 * P * P;
  const long patches = static_cast<long>(B) * G * G;
#pragma omp parallel for schedule(static)
  for (long q = 0; q < patches; ++q) {
    const int b = static_cast<int>(q / (G * G));
    const int py = static_cast<int>(q % (G * G)) / G, px = static_cast<int>(q % G);
    float* dst = out + q * cols;
    for (int c = 0; c < 3; ++c) {
      const float* plane = img + (static_cast<size_t>(b) * 3 + c) * S * S;
      for (int i = 0; i < P; ++i) {
        const float* src = plane + static_cast<size_t>(py * P + i) * S + px * P;
        std::memcpy(dst + (c * P + i) * P, src, sizeof(float) * P);
      }
    }
  }
}

}  // namespace cuclip::cpu
