// LayerNorm, softmax, L2 normalisation and im2col against double-precision loops / a direct
// convolution.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "cpu_test_util.hpp"
#include "cuclip/cpu_ops.hpp"

using namespace cuclip::cpu;
using cpu_test::nan_filled;
using cpu_test::random_floats;

TEST_CASE("layernorm matches a double reference, with padded strides, large offsets and in place", "[layernorm]") {
  struct Case { int rows, C; float offset; bool affine; };
  for (Case cs : {Case{5, 768, 0.0f, true}, Case{3, 1, 0.0f, true}, Case{7, 7, 0.0f, false}, Case{4, 1024, 1000.0f, true},
                  Case{77, 512, -3.0f, true}}) {
    const int ldx = cs.C + 5, ldy = cs.C + 2;
    auto x = random_floats(static_cast<size_t>(cs.rows) * ldx, -2.0f, 2.0f);
    for (auto& v : x) v += cs.offset;  // a large mean checks the variance has no cancellation
    const auto w = random_floats(cs.C, 0.5f, 1.5f), b = random_floats(cs.C);
    const float eps = 1e-5f;
    std::vector<double> ref;
    for (int r = 0; r < cs.rows; ++r) {
      double mean = 0, var = 0;
      for (int c = 0; c < cs.C; ++c) mean += x[static_cast<size_t>(r) * ldx + c];
      mean /= cs.C;
      for (int c = 0; c < cs.C; ++c) var += std::pow(x[static_cast<size_t>(r) * ldx + c] - mean, 2);
      var /= cs.C;
      for (int c = 0; c < cs.C; ++c) {
        double v = (x[static_cast<size_t>(r) * ldx + c] - mean) / std::sqrt(var + eps);
        ref.push_back(cs.affine ? v * w[c] + b[c] : v);
      }
    }
    const float* wp = cs.affine ? w.data() : nullptr;
    const float* bp = cs.affine ? b.data() : nullptr;
    std::vector<float> y = nan_filled(static_cast<size_t>(cs.rows) * ldy);
    layernorm(cs.rows, cs.C, x.data(), ldx, wp, bp, eps, y.data(), ldy);
    std::vector<float> got;
    for (int r = 0; r < cs.rows; ++r) {
      for (int c = 0; c < cs.C; ++c) got.push_back(y[static_cast<size_t>(r) * ldy + c]);
      for (int c = cs.C; c < ldy; ++c) REQUIRE(std::isnan(y[static_cast<size_t>(r) * ldy + c]));  // padding untouched
    }
    // Statistics in double: the only error left is the final rounding to fp32 (half an ulp), so
    // 1e-6 relative; 1e-6 absolute covers results near zero after the affine shift.
    const std::string label = "layernorm rows=" + std::to_string(cs.rows) + " C=" + std::to_string(cs.C);
    cpu_test::require_close(got, ref, 1e-6, 1e-6, label);
    // In place (y == x, same stride) gives the same numbers.
    layernorm(cs.rows, cs.C, x.data(), ldx, wp, bp, eps, x.data(), ldx);
    std::vector<float> inplace;
    for (int r = 0; r < cs.rows; ++r)
      for (int c = 0; c < cs.C; ++c) inplace.push_back(x[static_cast<size_t>(r) * ldx + c]);
    REQUIRE(inplace == got);
  }
}

TEST_CASE("softmax_rows matches a double reference, handles large logits and masked entries", "[softmax]") {
  const int rows = 6, N = 77;
  auto x = random_floats(static_cast<size_t>(rows) * N, -30.0f, 30.0f);
  for (int j = 0; j < N; ++j) x[N + j] += 1000.0f;  // exp would overflow without the max shift
  for (int j = 0; j < N; j += 3) x[2 * N + j] = -INFINITY;  // masked entries
  for (int j = 0; j < N; ++j) x[3 * N + j] = -INFINITY;     // fully masked row
  std::vector<double> ref;
  for (int r = 0; r < rows; ++r) {
    double mx = -INFINITY, sum = 0;
    for (int j = 0; j < N; ++j) mx = std::fmax(mx, x[r * N + j]);
    for (int j = 0; j < N; ++j) sum += mx == -INFINITY ? 0.0 : std::exp(x[r * N + j] - mx);
    for (int j = 0; j < N; ++j) ref.push_back(mx == -INFINITY ? 0.0 : std::exp(x[r * N + j] - mx) / sum);
  }
  softmax_rows(rows, N, x.data());
  // exp in fp32 is within a few ulps; the normalising sum is exact to double: 1e-6 relative, and a
  // tiny absolute term for entries that underflow to (near) zero.
  cpu_test::require_close(x, ref, 1e-9, 1e-6, "softmax");
}

TEST_CASE("l2_normalize_rows gives unit rows, keeps zero rows zero, handles tiny rows", "[l2norm]") {
  const int rows = 5, D = 512;
  auto x = random_floats(static_cast<size_t>(rows) * D, -3.0f, 3.0f);
  for (int j = 0; j < D; ++j) x[D + j] = 0.0f;                 // zero row -> zeros, not NaN
  for (int j = 0; j < D; ++j) x[2 * D + j] *= 1e-30f;          // squares underflow in fp32
  for (int j = 0; j < D; ++j) x[3 * D + j] = j == 7 ? 5.0f : 0.0f;  // exactly representable result
  std::vector<double> ref;
  for (int r = 0; r < rows; ++r) {
    double n = 0;
    for (int j = 0; j < D; ++j) n += static_cast<double>(x[r * D + j]) * x[r * D + j];
    n = std::sqrt(n);
    for (int j = 0; j < D; ++j) ref.push_back(n == 0 ? 0.0 : x[r * D + j] / n);
  }
  l2_normalize_rows(rows, D, x.data());
  // Norm in double, one division, one rounding to fp32: half an ulp.
  cpu_test::require_close(x, ref, 1e-9, 1e-6, "l2norm");
  REQUIRE(x[3 * D + 7] == 1.0f);
  for (int j = 0; j < D; ++j) REQUIRE(x[D + j] == 0.0f);
}

TEST_CASE("im2col_patches places every pixel at (c, i, j) and, with gemm, equals a direct convolution", "[im2col]") {
  struct Case { int B, S, P, width; };
  for (Case cs : {Case{2, 12, 4, 5}, Case{1, 32, 16, 7}, Case{3, 6, 1, 4}, Case{1, 7, 7, 3}}) {
    const int G = cs.S / cs.P, cols = 3 * cs.P * cs.P, rows = cs.B * G * G;
    const auto img = random_floats(static_cast<size_t>(cs.B) * 3 * cs.S * cs.S);
    const auto wconv = random_floats(static_cast<size_t>(cs.width) * cols);  // [width, 3, P, P]
    std::vector<float> patches = nan_filled(static_cast<size_t>(rows) * cols);
    im2col_patches(cs.B, cs.S, cs.P, img.data(), patches.data());
    auto pix = [&](int b, int c, int y, int x) { return img[((static_cast<size_t>(b) * 3 + c) * cs.S + y) * cs.S + x]; };
    // Exact placement.
    for (int b = 0; b < cs.B; ++b)
      for (int py = 0; py < G; ++py)
        for (int px = 0; px < G; ++px)
          for (int c = 0; c < 3; ++c)
            for (int i = 0; i < cs.P; ++i)
              for (int j = 0; j < cs.P; ++j)
                REQUIRE(patches[static_cast<size_t>(b * G * G + py * G + px) * cols + (c * cs.P + i) * cs.P + j] ==
                        pix(b, c, py * cs.P + i, px * cs.P + j));
    // Direct stride-P convolution in double vs im2col + gemm.
    std::vector<double> ref, tol;
    for (int b = 0; b < cs.B; ++b)
      for (int py = 0; py < G; ++py)
        for (int px = 0; px < G; ++px)
          for (int o = 0; o < cs.width; ++o) {
            double s = 0, mag = 0;
            for (int c = 0; c < 3; ++c)
              for (int i = 0; i < cs.P; ++i)
                for (int j = 0; j < cs.P; ++j) {
                  const double t = pix(b, c, py * cs.P + i, px * cs.P + j) *
                                   static_cast<double>(wconv[static_cast<size_t>(o) * cols + (c * cs.P + i) * cs.P + j]);
                  s += t;
                  mag += std::fabs(t);
                }
            ref.push_back(s);
            tol.push_back(2.0 * cols * 0x1p-24 * mag + 1e-7);  // fp32 dot of `cols` terms (gamma_K bound)
          }
    std::vector<float> out = nan_filled(static_cast<size_t>(rows) * cs.width);
    gemm(rows, cs.width, cols, patches.data(), cols, wconv.data(), cols, nullptr, Act::None, nullptr, 0, out.data(), cs.width);
    cpu_test::require_within(out, ref, tol, "im2col+gemm vs direct conv S=" + std::to_string(cs.S) + " P=" + std::to_string(cs.P));
  }
}
