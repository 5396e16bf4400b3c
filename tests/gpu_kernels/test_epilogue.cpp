// kernels/epilogue.cu, as the backend uses it after a cuBLAS GEMM: gpu::gemm (row-major C = A W^T
// through the column-major API, with and without its bias epilogue) followed by epilogue_forward,
// against cuclip::cpu::gemm with the same bias / activation / residual fused. f32/f16/bf16; widths
// that are not multiples of any tile; poisoned outputs.
#include <cmath>

#include "cuclip/cpu_ops.hpp"
#include "kernel_testing.hpp"
#include "kernels/epilogue.hpp"

using namespace cuclip_test;
namespace kn = cuclip::kernels;

namespace {
cuclip::cpu::Act cpu_act(kn::EpilogueAct a) {
  return a == kn::EpilogueAct::QuickGelu ? cuclip::cpu::Act::QuickGelu
         : a == kn::EpilogueAct::GeluErf ? cuclip::cpu::Act::GeluErf : cuclip::cpu::Act::None;
}
const char* act_name(kn::EpilogueAct a) {
  return a == kn::EpilogueAct::QuickGelu ? "quick_gelu" : a == kn::EpilogueAct::GeluErf ? "gelu_erf" : "none";
}

// Row-major C[M, N] = A[M, K] . W[N, K]^T as cuBLAS sees it: C^T = W A^T, column-major.
cuclip::Status gemm_rowmajor(gpu::Blas blas, DType dt, int M, int N, int K, const void* A, const void* W, void* C) {
  gpu::GemmDesc d;
  d.trans_a = gpu::Op::T;
  d.m = N;
  d.n = M;
  d.k = K;
  d.a = W;
  d.a_type = dt;
  d.lda = K;
  d.b = A;
  d.b_type = dt;
  d.ldb = K;
  d.c = C;
  d.c_type = dt;
  d.ldc = N;
  return gpu::gemm(blas, d, nullptr);
}
}  // namespace

TEST_CASE("gemm_then_epilogue_matches_cpu_fused_gemm", "[gpu_kernels][epilogue]") {
  CUCLIP_SEED_INFO();
  gpu::Blas blas = nullptr;
  REQUIRE_OK(gpu::blas_create(&blas));
  struct Shape { int M, N, K; };
  for (DType dt : kAllDtypes)
    for (Shape s : {Shape{1, 24, 16}, Shape{50, 64, 80}, Shape{77, 100, 48}, Shape{13, 257, 64}})
      for (kn::EpilogueAct act : {kn::EpilogueAct::None, kn::EpilogueAct::QuickGelu, kn::EpilogueAct::GeluErf})
        for (bool residual : {false, true}) {
          INFO(dtype_name(dt) << " M " << s.M << " N " << s.N << " K " << s.K << " act " << act_name(act) << " residual " << residual);
          const std::vector<float> A = round_to(dt, random_floats((size_t)s.M * s.K)), W = round_to(dt, random_floats((size_t)s.N * s.K));
          const std::vector<float> bias = random_floats(s.N), res = round_to(dt, random_floats((size_t)s.M * s.N));
          DeviceTensor dA(dt, A), dW(dt, W), dbias(DType::f32, bias), dres(dt, res), dC(dt, (size_t)s.M * s.N);
          dC.poison();
          REQUIRE_OK(gemm_rowmajor(blas, dt, s.M, s.N, s.K, dA.get(), dW.get(), dC.get()));
          REQUIRE_OK(kn::epilogue_forward(dt, s.M, s.N, (const float*)dbias.get(), act, residual ? dres.get() : nullptr, dC.get(), nullptr));
          std::vector<float> ref((size_t)s.M * s.N);
          cuclip::cpu::gemm(s.M, s.N, s.K, A.data(), s.K, W.data(), s.K, bias.data(), cpu_act(act), residual ? res.data() : nullptr,
                            s.N, ref.data(), s.N);
          // The GEMM result is rounded to dt before the epilogue (two roundings where the CPU has
          // none); sums of K products of values in [-1, 1] reach ~sqrt(K), so the absolute part
          // scales with that: K * 2^-24 for the f32 order of summation, one dt rounding otherwise.
          const double mag = std::sqrt((double)s.K);
          const double atol = dt == DType::f32 ? s.K * std::ldexp(1.0, -22) : mag * rtol_of(dt);
          CUCLIP_REQUIRE_CLOSE(dC.download(), ref, atol, 2 * rtol_of(dt));
        }
  REQUIRE_OK(gpu::blas_destroy(blas));
}

TEST_CASE("epilogue_in_place_residual", "[gpu_kernels][epilogue]") {
  CUCLIP_SEED_INFO();
  const int M = 7, N = 33;
  const std::vector<float> c = random_floats((size_t)M * N), bias = random_floats(N);
  DeviceTensor dC(DType::f32, c), dbias(DType::f32, bias);
  REQUIRE_OK(kn::epilogue_forward(DType::f32, M, N, (const float*)dbias.get(), kn::EpilogueAct::None, dC.get(), dC.get(), nullptr));
  std::vector<float> ref(c.size());
  for (size_t i = 0; i < c.size(); ++i) ref[i] = (c[i] + bias[i % N]) + c[i];
  CUCLIP_REQUIRE_CLOSE(dC.download(), ref, 0.0, 0.0);  // the same f32 additions in the same order
}
