// cuclip::cpu::gemm / gemm_packed against a double-precision triple loop: every ISA path this CPU has,
// our kernel and OpenBLAS, odd shapes, padded strides, each activation, bias on/off, residual absent /
// separate / aliasing C, outputs poisoned with NaN beforehand (padding columns must stay NaN).
#include <omp.h>

#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "cpu_test_util.hpp"
#include "cuclip/cpu_ops.hpp"

using namespace cuclip::cpu;
using cpu_test::nan_filled;
using cpu_test::random_floats;

namespace {

// Restores the global ISA / backend switches whatever a test did.
struct SwitchGuard {
  Isa isa = gemm_isa();
  GemmBackend backend = gemm_backend();
  ~SwitchGuard() {
    set_gemm_isa(isa);
    set_gemm_backend(backend);
  }
};

double act_ref(Act act, double x) {
  switch (act) {
    case Act::None: return x;
    case Act::QuickGelu: return x / (1.0 + std::exp(-1.702 * x));
    case Act::GeluErf: return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
  }
  return NAN;
}

const char* act_name(Act a) { return a == Act::None ? "none" : a == Act::QuickGelu ? "quick_gelu" : "gelu_erf"; }

struct Problem {
  int M, N, K, lda, ldw, ldc;
  std::vector<float> A, W, bias, residual;  // residual stored with row stride ldc (reused for aliasing)
  std::vector<double> dot, mag;             // exact sum_k a*w, and sum_k |a*w|
};

Problem make_problem(int M, int N, int K, int pad) {
  Problem p{M, N, K, K + pad, K + 2 * pad, N + 3 * pad, {}, {}, {}, {}, {}, {}};
  p.A = random_floats(static_cast<size_t>(M) * p.lda);
  p.W = random_floats(static_cast<size_t>(N) * p.ldw);
  p.bias = random_floats(N);
  p.residual = random_floats(static_cast<size_t>(M) * p.ldc);
  p.dot.assign(static_cast<size_t>(M) * N, 0.0);
  p.mag.assign(static_cast<size_t>(M) * N, 0.0);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      double s = 0, a = 0;
      for (int k = 0; k < K; ++k) {
        const double t = static_cast<double>(p.A[static_cast<size_t>(m) * p.lda + k]) * p.W[static_cast<size_t>(n) * p.ldw + k];
        s += t;
        a += std::fabs(t);
      }
      p.dot[static_cast<size_t>(m) * N + n] = s;
      p.mag[static_cast<size_t>(m) * N + n] = a;
    }
  return p;
}

enum class Residual { None, Separate, AliasC };
enum class Path { Gemm, Packed };

// Runs one variant and checks the valid region against the reference and the padding for NaN.
void run_variant(const Problem& p, Path path, Act act, bool use_bias, Residual res, const std::string& label) {
  const int M = p.M, N = p.N, K = p.K, ldc = p.ldc;
  std::vector<float> C = nan_filled(static_cast<size_t>(M) * ldc);
  std::vector<float> sep_res;
  const float* residual = nullptr;
  int ldr = 0;
  if (res == Residual::AliasC) {
    for (int m = 0; m < M; ++m)
      std::memcpy(&C[static_cast<size_t>(m) * ldc], &p.residual[static_cast<size_t>(m) * ldc], sizeof(float) * N);
    residual = C.data();
    ldr = ldc;
  } else if (res == Residual::Separate) {
    ldr = N + 2;
    sep_res = nan_filled(static_cast<size_t>(M) * ldr);  // NaN padding: reading past N would show
    for (int m = 0; m < M; ++m)
      std::memcpy(&sep_res[static_cast<size_t>(m) * ldr], &p.residual[static_cast<size_t>(m) * ldc], sizeof(float) * N);
    residual = sep_res.data();
  }
  const float* bias = use_bias ? p.bias.data() : nullptr;
  if (path == Path::Gemm) {
    gemm(M, N, K, p.A.data(), p.lda, p.W.data(), p.ldw, bias, act, residual, ldr, C.data(), ldc);
  } else {
    auto packed = pack_weights(N, K, p.W.data(), p.ldw);
    REQUIRE(packed_rows(*packed) == N);
    REQUIRE(packed_cols(*packed) == K);
    gemm_packed(M, *packed, p.A.data(), p.lda, bias, act, residual, ldr, C.data(), ldc);
  }

  std::vector<float> got;
  std::vector<double> ref, tol;
  size_t padding_touched = 0;
  for (int m = 0; m < M; ++m) {
    for (int n = 0; n < N; ++n) {
      const size_t i = static_cast<size_t>(m) * N + n;
      const double pre = p.dot[i] + (use_bias ? p.bias[n] : 0.0);
      const double r = res == Residual::None ? 0.0 : p.residual[static_cast<size_t>(m) * ldc + n];
      got.push_back(C[static_cast<size_t>(m) * ldc + n]);
      ref.push_back(act_ref(act, pre) + r);
      // Any fp32 summation order of K products is within ~K*u*sum|a*w| of the exact sum (u = 2^-24;
      // the classic gamma_K bound, doubled for slack); the activations' slope is below 1.2, and
      // exp/erf plus the residual add cost a few ulps of the result (1e-6 relative).
      tol.push_back(2.0 * (K + 2) * 0x1p-24 * (p.mag[i] + std::fabs(pre)) + 1e-6 * std::fabs(ref.back()) + 1e-7);
    }
    for (int n = N; n < ldc; ++n) padding_touched += !std::isnan(C[static_cast<size_t>(m) * ldc + n]);
  }
  INFO(label);
  REQUIRE(padding_touched == 0);
  cpu_test::require_within(got, ref, tol, label);
}

std::vector<Isa> own_isas() {
  std::vector<Isa> v;
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512})
    if (isa_supported(isa)) v.push_back(isa);
  return v;
}

struct Shape {
  int M, N, K;
};
// Odd sizes around the tile sizes (mr 4/6/12, nr 16/32, kc 256) and CLIP's 50/77 token counts.
const Shape kShapes[] = {{1, 1, 1},   {7, 7, 7},     {1, 33, 300},  {50, 96, 64},  {77, 65, 257},
                         {13, 1, 9},  {257, 47, 70}, {3, 513, 31},  {100, 200, 0}, {25, 40, 513}};

void run_all_variants(const Problem& p, Path path, const std::string& prefix) {
  for (Act act : {Act::None, Act::QuickGelu, Act::GeluErf})
    for (bool use_bias : {false, true})
      for (Residual res : {Residual::None, Residual::Separate, Residual::AliasC}) {
        const std::string label = prefix + " M=" + std::to_string(p.M) + " N=" + std::to_string(p.N) +
                                  " K=" + std::to_string(p.K) + " act=" + act_name(act) + " bias=" +
                                  std::to_string(use_bias) + " residual=" + std::to_string(static_cast<int>(res));
        run_variant(p, path, act, use_bias, res, label);
      }
}

}  // namespace

TEST_CASE("own gemm and gemm_packed match a double reference on every ISA path of this CPU", "[gemm]") {
  SwitchGuard guard;
  REQUIRE(set_gemm_backend(GemmBackend::Own));
  REQUIRE(isa_supported(Isa::Scalar));
  for (const Shape& s : kShapes) {
    const Problem p = make_problem(s.M, s.N, s.K, 3);
    for (Isa isa : own_isas()) {
      REQUIRE(set_gemm_isa(isa));
      REQUIRE(gemm_isa() == isa);
      run_all_variants(p, Path::Gemm, std::string("own gemm ") + isa_name(isa));
      run_all_variants(p, Path::Packed, std::string("gemm_packed ") + isa_name(isa));
    }
  }
}

TEST_CASE("OpenBLAS-backed gemm with separate epilogue matches a double reference", "[gemm][openblas]") {
  SwitchGuard guard;
  if (!have_openblas()) {
    WARN("built without OpenBLAS: only our kernel is tested");
    REQUIRE_FALSE(set_gemm_backend(GemmBackend::OpenBlas));
    return;
  }
  REQUIRE(set_gemm_backend(GemmBackend::OpenBlas));
  for (const Shape& s : kShapes) run_all_variants(make_problem(s.M, s.N, s.K, 3), Path::Gemm, "openblas gemm");
}

TEST_CASE("gemm on a CLIP-sized layer (M=50, N=768, K=3072, QuickGELU, residual in place)", "[gemm]") {
  SwitchGuard guard;
  const Problem p = make_problem(50, 768, 3072, 0);
  for (Isa isa : own_isas()) {
    REQUIRE(set_gemm_isa(isa));
    REQUIRE(set_gemm_backend(GemmBackend::Own));
    run_variant(p, Path::Packed, Act::QuickGelu, true, Residual::AliasC, std::string("clip-size packed ") + isa_name(isa));
  }
  if (have_openblas()) {
    REQUIRE(set_gemm_backend(GemmBackend::OpenBlas));
    run_variant(p, Path::Gemm, Act::QuickGelu, true, Residual::AliasC, "clip-size openblas");
  }
}

TEST_CASE("own gemm is bit-identical for 1, 2 and 3 threads", "[gemm][threads]") {
  SwitchGuard guard;
  REQUIRE(set_gemm_backend(GemmBackend::Own));
  const int M = 77, N = 300, K = 600;
  const auto A = random_floats(static_cast<size_t>(M) * K), W = random_floats(static_cast<size_t>(N) * K),
             bias = random_floats(N);
  const int saved = omp_get_max_threads();
  for (Isa isa : own_isas()) {
    REQUIRE(set_gemm_isa(isa));
    std::vector<std::vector<float>> outs;
    for (int threads : {1, 2, 3}) {
      omp_set_num_threads(threads);
      std::vector<float> C = nan_filled(static_cast<size_t>(M) * N);
      gemm(M, N, K, A.data(), K, W.data(), K, bias.data(), Act::GeluErf, nullptr, 0, C.data(), N);
      outs.push_back(C);
    }
    INFO(isa_name(isa));
    REQUIRE(std::memcmp(outs[0].data(), outs[1].data(), outs[0].size() * sizeof(float)) == 0);
    REQUIRE(std::memcmp(outs[0].data(), outs[2].data(), outs[0].size() * sizeof(float)) == 0);
  }
  omp_set_num_threads(saved);
}

TEST_CASE("isa switch: Auto resolves to a supported ISA, names are distinct", "[gemm]") {
  SwitchGuard guard;
  REQUIRE(set_gemm_isa(Isa::Auto));
  REQUIRE(gemm_isa() != Isa::Auto);
  REQUIRE(isa_supported(gemm_isa()));
  REQUIRE(std::string(isa_name(Isa::Avx2)) != isa_name(Isa::Avx512));
  // The best ISA is picked: if AVX-512 exists, Auto must not settle for less.
  if (isa_supported(Isa::Avx512)) REQUIRE(gemm_isa() == Isa::Avx512);
}

TEST_CASE("fused activations saturate cleanly for large |x| on every ISA path", "[gemm][act]") {
  SwitchGuard guard;
  REQUIRE(set_gemm_backend(GemmBackend::Own));
  // K = 1 and A = 1, so the pre-activation is exactly W[n] + bias[n]: a sweep over [-120, 120] reaches
  // exp overflow (-1.702 x > 88) and erf saturation, plus values near zero where relative error shows.
  const int N = 241 * 2;
  std::vector<float> A = {1.0f}, W(N), bias(N, 0.0f);
  for (int n = 0; n < N; ++n) W[n] = (n < 241) ? static_cast<float>(n - 120) : static_cast<float>(n - 241 - 120) * 1e-3f;
  for (Isa isa : own_isas()) {
    REQUIRE(set_gemm_isa(isa));
    for (Act act : {Act::QuickGelu, Act::GeluErf}) {
      std::vector<float> C = nan_filled(N);
      gemm(1, N, 1, A.data(), 1, W.data(), 1, bias.data(), act, nullptr, 0, C.data(), N);
      std::vector<double> ref(N);
      for (int n = 0; n < N; ++n) ref[n] = act_ref(act, W[n]);
      // Only the fp32 formula's own error is left. exp(-1.702x) inherits the rounding of its argument
      // (relative error ~|1.702x|*u) and 1 + erf(x/sqrt2) cancels to 0 below x ~ -5.5 in fp32 (as in
      // PyTorch), so the honest bound is a few ulps of |x| absolute, plus 1e-6 of |ref| relative.
      std::vector<double> tol(N);
      for (int n = 0; n < N; ++n) tol[n] = 4.0 * 0x1p-24 * std::fabs(W[n]) + 1e-6 * std::fabs(ref[n]) + 1e-30;
      cpu_test::require_within(C, ref, tol, std::string("saturation ") + isa_name(isa) + " " + act_name(act));
    }
  }
}

TEST_CASE("concurrent gemm calls from several threads match the serial result bit for bit", "[gemm][threads]") {
  // Each engine context may run on its own thread: per-call scratch must not be shared between callers.
  SwitchGuard guard;
  REQUIRE(set_gemm_backend(GemmBackend::Own));
  const int M = 77, N = 200, K = 300;
  const auto W = random_floats(static_cast<size_t>(N) * K), bias = random_floats(N);
  const auto packed = pack_weights(N, K, W.data(), K);
  std::vector<std::vector<float>> A(4), serial(4), parallel(4);
  for (int i = 0; i < 4; ++i) {
    A[i] = random_floats(static_cast<size_t>(M + 13 * i) * K);
    serial[i].assign(static_cast<size_t>(M + 13 * i) * N, 0.0f);
    gemm_packed(M + 13 * i, *packed, A[i].data(), K, bias.data(), Act::QuickGelu, nullptr, 0, serial[i].data(), N);
  }
  std::vector<std::thread> workers;
  for (int i = 0; i < 4; ++i)
    workers.emplace_back([&, i] {
      parallel[i] = nan_filled(static_cast<size_t>(M + 13 * i) * N);
      for (int rep = 0; rep < 3; ++rep)
        gemm_packed(M + 13 * i, *packed, A[i].data(), K, bias.data(), Act::QuickGelu, nullptr, 0, parallel[i].data(), N);
    });
  for (auto& t : workers) t.join();
  for (int i = 0; i < 4; ++i) REQUIRE(std::memcmp(serial[i].data(), parallel[i].data(), serial[i].size() * sizeof(float)) == 0);
}
