// Multi-head scaled-dot-product attention on CLIP's packed qkv buffer (see cpu_ops.hpp for layout and
// masking rules). One OpenMP task per (batch, head); each gathers its K (transposed) and V into
// contiguous scratch so that both inner loops run over contiguous memory and vectorise without
// reordering any sum: the result is the same for every thread count.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "cuclip/cpu_ops.hpp"

namespace cuclip::cpu {
namespace {

constexpr int kKeyChunk = 64;  // keys whose scores accumulate in registers across the whole head dim

// Weighted sum of W consecutive columns d0.. of V: dst[d] = inv * sum_j p[j] v[j][d]. The W sums stay in
// registers across all keys (the compiler keeps a fixed-size local array in vector registers).
template <int W>
inline void weighted_v(const float* p, const float* v, int nkeys, int HD, int d0, int dn, float inv, float* dst) {
  float acc[W] = {};
  for (int j = 0; j < nkeys; ++j) {
    const float pj = p[j];
    const float* vj = v + static_cast<size_t>(j) * HD + d0;
    for (int dd = 0; dd < W; ++dd) acc[dd] += pj * vj[dd];
  }
  for (int dd = 0; dd < dn; ++dd) dst[d0 + dd] = acc[dd] * inv;
}

// One query row against nkeys keys: dst = softmax(scale * q K^T) V. kt is K^T ([HD][ldk], ldk a
// multiple of kKeyChunk, zero-padded), v is [nkeys][HD] followed by at least 16 floats of slack (chunks
// may read past the last row; those lanes are discarded). Cloned per ISA (the rest of the build is
// baseline x86-64). Without -ffast-math the compiler vectorises only across independent elements and
// never reassociates a sum, so the result does not depend on threads; the clones may differ in the
// last bit (FMA contraction).
__attribute__((target_clones("avx512f", "avx2", "default"))) void attend_row(
    const float* q, const float* kt, int ldk, const float* v, int nkeys, int HD, float scale, float* s, float* dst) {
  for (int j0 = 0; j0 < nkeys; j0 += kKeyChunk) {
    float acc[kKeyChunk] = {};
    for (int d = 0; d < HD; ++d) {
      const float qd = q[d];
      const float* kd = kt + static_cast<size_t>(d) * ldk + j0;
      for (int jj = 0; jj < kKeyChunk; ++jj) acc[jj] += qd * kd[jj];
    }
    const int jn = std::min(kKeyChunk, nkeys - j0);
    for (int jj = 0; jj < jn; ++jj) s[j0 + jj] = acc[jj] * scale;
  }
  float mx = -INFINITY;
  for (int j = 0; j < nkeys; ++j) mx = s[j] > mx ? s[j] : mx;
  double sum = 0;
  for (int j = 0; j < nkeys; ++j) {
    s[j] = std::exp(s[j] - mx);
    sum += s[j];
  }
  const float inv = static_cast<float>(1.0 / sum);
  int d0 = 0;
  for (; d0 + 64 <= HD; d0 += 64) weighted_v<64>(s, v, nkeys, HD, d0, 64, inv, dst);
  for (; d0 < HD; d0 += 16) weighted_v<16>(s, v, nkeys, HD, d0, std::min(16, HD - d0), inv, dst);
}

}  // namespace

void attention(int B, int T, int NH, int HD, const float* qkv, float* out, bool causal, const int* valid_len) {
  if (B <= 0 || T <= 0 || NH <= 0 || HD <= 0) return;
  const int C = NH * HD;
  const size_t ld = static_cast<size_t>(3) * C;
  const float scale = 1.0f / std::sqrt(static_cast<float>(HD));

  // Per-thread scratch, allocated here rather than inside the parallel region so that std::bad_alloc
  // reaches the caller instead of escaping an OpenMP region (which would terminate the process).
  const int threads = omp_get_max_threads();
  const int ldk = (T + kKeyChunk - 1) / kKeyChunk * kKeyChunk;
  const size_t kt_size = static_cast<size_t>(HD) * ldk;     // K^T: [HD][ldk], zero-padded
  const size_t v_size = static_cast<size_t>(T) * HD + 16;   // V: [T][HD] + slack for the last chunk
  const size_t per_thread = kt_size + v_size + T;
  std::vector<float> scratch(per_thread * threads, 0.0f);

#pragma omp parallel num_threads(threads)
  {
    float* const kt = scratch.data() + per_thread * omp_get_thread_num();
    float* const v = kt + kt_size;
    float* const s = v + v_size;
#pragma omp for schedule(dynamic, 1)
    for (int bh = 0; bh < B * NH; ++bh) {
      const int b = bh / NH, h = bh % NH;
      const float* base = qkv + static_cast<size_t>(b) * T * ld;
      const int vlen = valid_len ? std::clamp(valid_len[b], 0, T) : T;
      for (int j = 0; j < vlen; ++j) {
        const float* krow = base + j * ld + C + h * HD;
        const float* vrow = base + j * ld + 2 * C + h * HD;
        for (int d = 0; d < HD; ++d) kt[static_cast<size_t>(d) * ldk + j] = krow[d];
        std::copy(vrow, vrow + HD, v + static_cast<size_t>(j) * HD);
      }
      for (int t = 0; t < T; ++t) {
        float* dst = out + (static_cast<size_t>(b) * T + t) * C + h * HD;
        const int nkeys = causal ? std::min(t + 1, vlen) : vlen;
        if (nkeys <= 0) {  // nothing to attend to: zeros, not the NaN of an empty softmax
          std::fill(dst, dst + HD, 0.0f);
          continue;
        }
        attend_row(base + t * ld + h * HD, kt, ldk, v, nkeys, HD, scale, s, dst);
      }
    }
  }
}

}  // namespace cuclip::cpu
