// kernels/gemm.cu against cuclip::cpu::gemm: every epilogue, f16 / bf16 (tensor cores) and f32,
// M and N that are not multiples of any tile (1, 7, 50, 77, 257, ...), K from one 8-wide chunk to
// 768, both tile shapes, the residual aliasing C; fresh random inputs, poisoned outputs.
#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "cuclip/cpu_ops.hpp"
#include "kernels/embed.hpp"
#include "kernels/gemm.hpp"
#include "tc_kernels/tc_testing.hpp"

using namespace cuclip_test;
using cuclip::kernels::Epilogue;

namespace {

const char* epilogue_name(Epilogue e) {
  switch (e) {
    case Epilogue::None: return "none";
    case Epilogue::Bias: return "bias";
    case Epilogue::BiasQuickGelu: return "bias+quick_gelu";
    case Epilogue::BiasGeluErf: return "bias+gelu_erf";
    case Epilogue::BiasResidual: return "bias+residual";
  }
  return "?";
}

cuclip::cpu::Act cpu_act(Epilogue e) {
  if (e == Epilogue::BiasQuickGelu) return cuclip::cpu::Act::QuickGelu;
  if (e == Epilogue::BiasGeluErf) return cuclip::cpu::Act::GeluErf;
  return cuclip::cpu::Act::None;
}

// Runs gemm_forward on fresh inputs rounded to dt and compares with the CPU op on the same values.
// residual_in_c: the residual is C itself (uploaded into C; the in-place residual add of a block).
// c_offset: C starts that many elements into its allocation (an odd offset misaligns element pairs).
void check_gemm(DType dt, int M, int N, int K, Epilogue epi, bool residual_in_c = false, int c_offset = 0) {
  CUCLIP_SEED_INFO();
  INFO(dtype_name(dt) << " M=" << M << " N=" << N << " K=" << K << " epilogue " << epilogue_name(epi)
                      << (residual_in_c ? " (residual aliases C)" : "") << " C offset " << c_offset);
  const bool use_bias = epi != Epilogue::None, use_res = epi == Epilogue::BiasResidual;
  // Linear-layer-like magnitudes: unit inputs, weights ~ 1/sqrt(K), so outputs are O(1).
  std::vector<float> a = random_floats(static_cast<size_t>(M) * K, -1.0f, 1.0f);
  const float w_scale = 1.5f / std::sqrt(static_cast<float>(K));
  std::vector<float> w = random_floats(static_cast<size_t>(N) * K, -w_scale, w_scale);
  std::vector<float> bias = random_floats(N, -0.5f, 0.5f);
  std::vector<float> res = random_floats(static_cast<size_t>(M) * N, -1.0f, 1.0f);
  round_all(dt, a);
  round_all(dt, w);
  round_all(dt, res);

  DeviceTensor da(dt, a.size()), dw(dt, w.size()), dc(dt, static_cast<size_t>(M) * N + c_offset), dres(dt, res.size());
  void* c_ptr = static_cast<char*>(dc.get()) + c_offset * dtype_bytes(dt);
  DeviceBuffer<float> dbias(N);
  da.upload(a);
  dw.upload(w);
  dbias.upload(bias);
  const void* residual = nullptr;
  if (use_res && residual_in_c) {
    std::vector<float> c_init(c_offset, 0.0f);
    c_init.insert(c_init.end(), res.begin(), res.end());
    dc.upload(c_init);
    residual = c_ptr;
  } else {
    dc.poison();
    if (use_res) {
      dres.upload(res);
      residual = dres.get();
    }
  }
  REQUIRE_OK(cuclip::kernels::gemm_forward(dt, M, N, K, da.get(), dw.get(), use_bias ? dbias.get() : nullptr, epi,
                                           residual, c_ptr, nullptr));
  REQUIRE_OK(gpu::stream_synchronize(nullptr));
  std::vector<float> got = dc.download();
  got.erase(got.begin(), got.begin() + c_offset);

  std::vector<float> ref(static_cast<size_t>(M) * N);
  cuclip::cpu::gemm(M, N, K, a.data(), K, w.data(), K, use_bias ? bias.data() : nullptr, cpu_act(epi),
                    use_res ? res.data() : nullptr, N, ref.data(), N);

  // Both sides sum K exact products in f32 (in different orders): each is within K * 2^-24 of the
  // largest sum of |a*w| (+|bias|, +|residual|); the activations (slope <= 1.13) do not enlarge it.
  // Then the kernel rounds once to dt: half an ulp relative to the result. expf/erff differ between
  // the GPU, the emulator's libm and the CPU op's vector libm by a few f32 ulps: 2^-20 relative.
  double mag = 0;
  for (int m = 0; m < M; ++m) {
    for (int n = 0; n < N; ++n) {
      double s = use_bias ? std::fabs(bias[n]) : 0.0;
      if (use_res) s += std::fabs(res[static_cast<size_t>(m) * N + n]);
      for (int k = 0; k < K; ++k) s += std::fabs(a[static_cast<size_t>(m) * K + k] * w[static_cast<size_t>(n) * K + k]);
      mag = std::max(mag, s);
    }
  }
  const double atol = 2.0 * (K + 2) * 0x1p-24 * mag;
  const double rtol = half_ulp(dt) * 1.001 + 0x1p-20;
  CUCLIP_REQUIRE_CLOSE(got, ref, atol, rtol);
}

const Epilogue kAllEpilogues[] = {Epilogue::None, Epilogue::Bias, Epilogue::BiasQuickGelu, Epilogue::BiasGeluErf,
                                  Epilogue::BiasResidual};

}  // namespace

TEST_CASE("gemm_tensor_core_matches_cpu_reference_for_every_epilogue_at_ragged_shapes", "[tc][gemm]") {
  struct Shape {
    int M, N, K;
  };
  // M, N off every tile multiple; K from a single 8-wide chunk (the mma's k16 half zero-filled) to
  // several 32-deep slices with a ragged last one (80 = 2.5 slices, 24 < one slice).
  const Shape shapes[] = {{1, 8, 8}, {7, 24, 64}, {50, 80, 160}, {77, 64, 80}, {257, 160, 24}, {66, 136, 40}};
  for (DType dt : {DType::f16, DType::bf16})
    for (const Shape& s : shapes)
      for (Epilogue e : kAllEpilogues) check_gemm(dt, s.M, s.N, s.K, e);
}

TEST_CASE("gemm_tensor_core_handles_odd_n_misaligned_c_and_clip_widths", "[tc][gemm]") {
  // N odd (the epilogue's element pairs straddle the row end) and a CLIP width K = 768 with a
  // multi-stage pipeline of 24 slices.
  check_gemm(DType::f16, 13, 9, 16, Epilogue::Bias);
  check_gemm(DType::bf16, 5, 33, 8, Epilogue::BiasGeluErf);
  check_gemm(DType::f16, 77, 72, 768, Epilogue::BiasQuickGelu);
  check_gemm(DType::bf16, 50, 64, 768, Epilogue::BiasResidual);
  // C at an odd element offset: element pairs are not 4-byte aligned, stored one by one.
  check_gemm(DType::f16, 9, 24, 32, Epilogue::Bias, false, 1);
  check_gemm(DType::bf16, 9, 24, 32, Epilogue::BiasResidual, true, 3);
}

TEST_CASE("gemm_tensor_core_large_tile_path_matches_cpu_reference", "[tc][gemm]") {
  // Enough 128x128 tiles (9 x 17 = 153 >= 132) that the launcher picks the large tile shape.
  check_gemm(DType::f16, 1031, 2056, 16, Epilogue::BiasQuickGelu);
  check_gemm(DType::bf16, 1100, 2050, 40, Epilogue::BiasResidual, true);
}

TEST_CASE("gemm_residual_may_alias_c", "[tc][gemm]") {
  for (DType dt : {DType::f16, DType::bf16, DType::f32}) {
    check_gemm(dt, 77, 80, 64, Epilogue::BiasResidual, true);
    check_gemm(dt, 3, 24, 8, Epilogue::BiasResidual, true);
  }
}

TEST_CASE("gemm_f32_matches_cpu_reference_for_every_epilogue", "[tc][gemm]") {
  for (Epilogue e : kAllEpilogues) {
    check_gemm(DType::f32, 1, 8, 8, e);
    check_gemm(DType::f32, 77, 80, 64, e);
    check_gemm(DType::f32, 65, 7, 13, e);  // f32 takes any K
  }
}

TEST_CASE("gemm_forward_rejects_bad_arguments_and_skips_empty_outputs", "[tc][gemm]") {
  DeviceTensor a(DType::f16, 64), w(DType::f16, 64), c(DType::f16, 64);
  DeviceBuffer<float> bias(8);
  auto run = [&](DType dt, int M, int N, int K, Epilogue e, const float* b, const void* r) {
    return cuclip::kernels::gemm_forward(dt, M, N, K, a.get(), w.get(), b, e, r, c.get(), nullptr);
  };
  REQUIRE_ERROR(run(DType::f16, 2, 2, 12, Epilogue::None, nullptr, nullptr), "K=12", "multiple of 8");
  REQUIRE_ERROR(run(DType::f16, -1, 2, 8, Epilogue::None, nullptr, nullptr), "bad shape");
  REQUIRE_ERROR(run(DType::f16, 2, 2, 0, Epilogue::None, nullptr, nullptr), "bad shape");
  REQUIRE_ERROR(run(DType::f16, 2, 2, 8, Epilogue::Bias, nullptr, nullptr), "needs a bias");
  REQUIRE_ERROR(run(DType::f16, 2, 2, 8, Epilogue::BiasResidual, bias.get(), nullptr), "needs a residual");
  REQUIRE_ERROR(run(static_cast<DType>(7), 2, 2, 8, Epilogue::None, nullptr, nullptr), "unknown dtype");
  REQUIRE_ERROR(run(DType::f16, 2, 2, 8, static_cast<Epilogue>(9), nullptr, nullptr), "unknown epilogue");
  const char* misaligned = static_cast<const char*>(a.get()) + 2;
  REQUIRE_ERROR(cuclip::kernels::gemm_forward(DType::f16, 1, 1, 8, misaligned, w.get(), nullptr, Epilogue::None, nullptr,
                                              c.get(), nullptr),
                "16-byte aligned");
  c.poison();
  REQUIRE_OK(run(DType::f16, 0, 8, 8, Epilogue::None, nullptr, nullptr));
  REQUIRE_OK(run(DType::f16, 8, 0, 8, Epilogue::None, nullptr, nullptr));
  for (float v : c.download()) REQUIRE(std::isnan(v));  // nothing written
}

TEST_CASE("patch_embed_implicit_im2col_equals_im2col_then_gemm_bit_for_bit", "[tc][gemm][patch]") {
  // The implicit-im2col producer must put exactly the bytes im2col_u8_forward writes into the same
  // shared-memory tiles, so the two paths run the same MMAs on the same operands: equal outputs,
  // bit for bit. Ragged grids (S not a multiple of P: the trailing pixels are never read), M not a
  // multiple of the tile, both tile shapes (B * G * G rows past 132 large tiles take the large one).
  CUCLIP_SEED_INFO();
  std::mt19937 rng(test_seed());
  struct Shape { int B, S, P, N; };
  for (DType dt : {DType::f16, DType::bf16})
    for (Shape sh : {Shape{1, 16, 8, 40}, Shape{3, 36, 8, 72}, Shape{2, 50, 16, 96}, Shape{1, 64, 32, 128},
                     Shape{5, 224, 32, 64}, Shape{40, 64, 8, 1040}}) {
      INFO(dtype_name(dt) << " B " << sh.B << " S " << sh.S << " P " << sh.P << " N " << sh.N);
      const int G = sh.S / sh.P, M = sh.B * G * G, K = 3 * sh.P * sh.P;
      std::vector<uint8_t> rgb((size_t)sh.B * sh.S * sh.S * 3);
      for (auto& v : rgb) v = (uint8_t)(rng() & 0xff);
      std::vector<float> lut(3 * 256);
      for (int c = 0; c < 3; ++c)
        for (int v = 0; v < 256; ++v) lut[(size_t)c * 256 + v] = (v / 255.0f - 0.45f - 0.01f * c) / (0.27f + 0.005f * c);
      std::vector<float> w = random_floats((size_t)sh.N * K, -0.05f, 0.05f);
      round_all(dt, w);
      DeviceBuffer<uint8_t> drgb(rgb.size());
      DeviceBuffer<float> dlut(lut.size());
      drgb.upload(rgb);
      dlut.upload(lut);
      DeviceTensor dw(dt, w), cols(dt, (size_t)M * K), ref(dt, (size_t)M * sh.N), got(dt, (size_t)M * sh.N);
      ref.poison();
      got.poison();
      REQUIRE_OK(cuclip::kernels::im2col_u8_forward(dt, sh.B, sh.S, sh.P, drgb.get(), dlut.get(), cols.get(), nullptr));
      REQUIRE_OK(cuclip::kernels::gemm_forward(dt, M, sh.N, K, cols.get(), dw.get(), nullptr, Epilogue::None, nullptr,
                                               ref.get(), nullptr));
      REQUIRE_OK(cuclip::kernels::patch_embed_gemm_forward(dt, sh.B, sh.S, sh.P, drgb.get(), dlut.get(), sh.N, dw.get(),
                                                           got.get(), nullptr));
      const std::vector<float> r = ref.download(), g = got.download();
      size_t bad = 0;
      for (size_t i = 0; i < r.size(); ++i) bad += !(r[i] == g[i]);
      INFO(bad << " of " << r.size() << " outputs differ");
      CHECK(bad == 0);
    }
  uint8_t dummy[16] = {};
  DeviceTensor w(DType::f16, 3 * 12 * 12 * 8);
  CHECK(cuclip::kernels::patch_embed_gemm_forward(DType::f16, 1, 24, 12, dummy, nullptr, 8, w.get(), w.get(), nullptr).code ==
        CUCLIP_ERR_UNSUPPORTED);  // P = 12: a 16-byte chunk would straddle two pixel rows
  CHECK(cuclip::kernels::patch_embed_gemm_forward(DType::f32, 1, 16, 8, dummy, nullptr, 8, w.get(), w.get(), nullptr).code ==
        CUCLIP_ERR_UNSUPPORTED);
  CHECK(cuclip::kernels::patch_embed_gemm_forward(DType::f16, 1, 4, 8, dummy, nullptr, 8, w.get(), w.get(), nullptr).code ==
        CUCLIP_ERR_INVALID_ARGUMENT);  // S < P
}
