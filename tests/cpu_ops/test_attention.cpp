// cuclip::cpu::attention against a double-precision loop over (batch, head, query, key): causal and
// bidirectional, head dims 64 and 80, T = 1, 50, 77, 257, and valid_len masking (masked K/V rows are
// filled with NaN, so reading one would show up).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "cpu_test_util.hpp"
#include "cuclip/cpu_ops.hpp"

using namespace cuclip::cpu;

namespace {

std::vector<double> attention_ref(int B, int T, int NH, int HD, const std::vector<float>& qkv, bool causal,
                                  const int* valid_len) {
  const int C = NH * HD;
  std::vector<double> out(static_cast<size_t>(B) * T * C, 0.0);
  auto at = [&](int b, int t, int col) { return static_cast<double>(qkv[(static_cast<size_t>(b) * T + t) * 3 * C + col]); };
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < NH; ++h)
      for (int t = 0; t < T; ++t) {
        const int vlen = valid_len ? std::clamp(valid_len[b], 0, T) : T;
        std::vector<double> w;
        for (int j = 0; j < T; ++j) {
          if (j >= vlen || (causal && j > t)) break;
          double s = 0;
          for (int d = 0; d < HD; ++d) s += at(b, t, h * HD + d) * at(b, j, C + h * HD + d);
          w.push_back(s / std::sqrt(static_cast<double>(HD)));
        }
        if (w.empty()) continue;  // documented: no key -> zeros
        const double mx = *std::max_element(w.begin(), w.end());
        double sum = 0;
        for (double& x : w) sum += (x = std::exp(x - mx));
        for (int d = 0; d < HD; ++d) {
          double o = 0;
          for (size_t j = 0; j < w.size(); ++j) o += w[j] / sum * at(b, static_cast<int>(j), 2 * C + h * HD + d);
          out[(static_cast<size_t>(b) * T + t) * C + h * HD + d] = o;
        }
      }
  return out;
}

void check_attention(int B, int T, int NH, int HD, bool causal, const std::vector<int>* valid_len) {
  const int C = NH * HD;
  // q scaled up so that the softmax is peaked for some rows and flat for others.
  std::vector<float> qkv = cpu_test::random_floats(static_cast<size_t>(B) * T * 3 * C, -1.0f, 1.0f);
  for (size_t r = 0; r < static_cast<size_t>(B) * T; ++r)
    for (int c = 0; c < C; ++c) qkv[r * 3 * C + c] *= 3.0f;
  const int* vl = valid_len ? valid_len->data() : nullptr;
  if (vl)  // masked keys/values must never be read
    for (int b = 0; b < B; ++b)
      for (int t = std::max(vl[b], 0); t < T; ++t)
        for (int c = C; c < 3 * C; ++c) qkv[(static_cast<size_t>(b) * T + t) * 3 * C + c] = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> out = cpu_test::nan_filled(static_cast<size_t>(B) * T * C);
  attention(B, T, NH, HD, qkv.data(), out.data(), causal, vl);
  const auto ref = attention_ref(B, T, NH, HD, qkv, causal, vl);
  // Scores carry ~HD*u*sum|q*k|*scale ~ 1e-5 absolute error (|q|<=3, |k|<=1, HD<=80) which the softmax
  // turns into the same relative error of each weight; outputs are convex combinations of |v| <= 1.
  const std::string label = "attention B=" + std::to_string(B) + " T=" + std::to_string(T) + " NH=" + std::to_string(NH) +
                            " HD=" + std::to_string(HD) + " causal=" + std::to_string(causal) + " masked=" + std::to_string(vl != nullptr);
  cpu_test::require_close(out, ref, 3e-5, 1e-5, label);
}

}  // namespace

TEST_CASE("attention matches a double reference, causal and not, HD 64 and 80", "[attention]") {
  for (int T : {1, 50, 77, 257})
    for (int HD : {64, 80})
      for (bool causal : {false, true}) check_attention(2, T, 3, HD, causal, nullptr);
}

TEST_CASE("attention with valid_len masks padded keys (NaN there is never read), zero-length gives zeros",
          "[attention]") {
  const std::vector<int> vl = {77, 5, 1, 0, 100};  // full, short, single, empty, above T (clamped)
  for (bool causal : {false, true}) check_attention(5, 77, 2, 64, causal, &vl);
  std::vector<float> qkv = cpu_test::random_floats(static_cast<size_t>(1) * 4 * 3 * 64);
  std::vector<float> out = cpu_test::nan_filled(4 * 64);
  const int zero = 0;
  attention(1, 4, 1, 64, qkv.data(), out.data(), false, &zero);
  for (float x : out) REQUIRE(x == 0.0f);
}

TEST_CASE("attention with one token returns that token's v", "[attention]") {
  const int NH = 2, HD = 64, C = NH * HD;
  auto qkv = cpu_test::random_floats(3 * C);
  std::vector<float> out = cpu_test::nan_filled(C);
  attention(1, 1, NH, HD, qkv.data(), out.data(), true, nullptr);
  for (int c = 0; c < C; ++c) REQUIRE(out[c] == qkv[2 * C + c]);  // softmax of one score is exactly 1
}

TEST_CASE("attention is bit-identical for 1, 2 and 3 threads", "[attention][threads]") {
  const int B = 2, T = 77, NH = 4, HD = 64, C = NH * HD;
  const auto qkv = cpu_test::random_floats(static_cast<size_t>(B) * T * 3 * C);
  const std::vector<int> vl = {77, 30};
  const int saved = omp_get_max_threads();
  std::vector<std::vector<float>> outs;
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    std::vector<float> out = cpu_test::nan_filled(static_cast<size_t>(B) * T * C);
    attention(B, T, NH, HD, qkv.data(), out.data(), true, vl.data());
    outs.push_back(out);
  }
  omp_set_num_threads(saved);
  REQUIRE(std::memcmp(outs[0].data(), outs[1].data(), outs[0].size() * sizeof(float)) == 0);
  REQUIRE(std::memcmp(outs[0].data(), outs[2].data(), outs[0].size() * sizeof(float)) == 0);
}
