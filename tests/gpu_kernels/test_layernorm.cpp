// kernels/layernorm.cu against cuclip::cpu::layernorm: plain LayerNorm and the fused residual add +
// LayerNorm, in f32/f16/bf16, at CLIP-like row counts (1, 50, 77, 257, odd) and widths (a few, 64,
// 80, 768, and widths that are not multiples of the warp), fresh random inputs, poisoned outputs.
#include <cmath>

#include "cuclip/cpu_ops.hpp"
#include "kernel_testing.hpp"
#include "kernels/layernorm.hpp"

using namespace cuclip_test;

namespace {
constexpr float kEps = 1e-5f;
// LayerNorm outputs are O(1) (weights in [0.5, 1.5]): 1e-5 absolute covers the f32 statistics
// against the CPU op's double ones (rsqrtf is within 2 ulp); 16-bit outputs add their rounding.
double atol_of(DType) { return 2e-5; }
}  // namespace

TEST_CASE("layernorm_matches_cpu_reference_every_dtype", "[gpu_kernels][layernorm]") {
  CUCLIP_SEED_INFO();
  for (DType dt : kAllDtypes)
    for (int rows : {1, 3, 50, 77, 257})
      for (int C : {5, 64, 80, 161, 512, 768, 1024, 1280}) {  // f16/bf16 at 512..1280: the vectorized kernel
        INFO(dtype_name(dt) << " rows " << rows << " C " << C);
        // An offset on the inputs makes the mean large against the spread, as in real residual streams.
        std::vector<float> x = round_to(dt, random_floats((size_t)rows * C, 1.0f, 5.0f));
        const std::vector<float> w = random_floats(C, 0.5f, 1.5f), b = random_floats(C, -0.5f, 0.5f);
        DeviceTensor dx(dt, x), dy(dt, x.size()), dw(DType::f32, w), db(DType::f32, b);
        dy.poison();
        REQUIRE_OK(cuclip::kernels::layernorm_forward(dt, rows, C, dx.get(), (const float*)dw.get(), (const float*)db.get(),
                                                      kEps, dy.get(), nullptr));
        std::vector<float> ref(x.size());
        cuclip::cpu::layernorm(rows, C, x.data(), C, w.data(), b.data(), kEps, ref.data(), C);
        CUCLIP_REQUIRE_CLOSE(dy.download(), ref, atol_of(dt), rtol_of(dt));
      }
}

TEST_CASE("layernorm_in_place_and_without_affine_parameters", "[gpu_kernels][layernorm]") {
  CUCLIP_SEED_INFO();
  const int rows = 9, C = 100;
  std::vector<float> x = random_floats((size_t)rows * C, -3.0f, 3.0f);
  DeviceTensor dx(DType::f32, x);
  REQUIRE_OK(cuclip::kernels::layernorm_forward(DType::f32, rows, C, dx.get(), nullptr, nullptr, kEps, dx.get(), nullptr));
  std::vector<float> ref(x.size());
  cuclip::cpu::layernorm(rows, C, x.data(), C, nullptr, nullptr, kEps, ref.data(), C);
  CUCLIP_REQUIRE_CLOSE(dx.download(), ref, atol_of(DType::f32), rtol_of(DType::f32));
  // The same for the vectorized f16/bf16 kernel (a CLIP width): in place, no w, no b.
  for (DType dt : {DType::f16, DType::bf16}) {
    INFO(dtype_name(dt));
    const int W = 768;
    std::vector<float> xv = round_to(dt, random_floats((size_t)rows * W, -3.0f, 3.0f));
    DeviceTensor dxv(dt, xv);
    REQUIRE_OK(cuclip::kernels::layernorm_forward(dt, rows, W, dxv.get(), nullptr, nullptr, kEps, dxv.get(), nullptr));
    std::vector<float> refv(xv.size());
    cuclip::cpu::layernorm(rows, W, xv.data(), W, nullptr, nullptr, kEps, refv.data(), W);
    CUCLIP_REQUIRE_CLOSE(dxv.download(), refv, atol_of(dt), rtol_of(dt));
  }
}

TEST_CASE("add_layernorm_updates_residual_and_normalizes_it", "[gpu_kernels][layernorm]") {
  CUCLIP_SEED_INFO();
  for (DType dt : kAllDtypes)
    for (int rows : {1, 77, 257})
      for (int C : {64, 80, 129}) {
        for (bool with_bias : {false, true}) {
          INFO(dtype_name(dt) << " rows " << rows << " C " << C << " bias " << with_bias);
          const std::vector<float> x = round_to(dt, random_floats((size_t)rows * C, -2.0f, 2.0f));
          const std::vector<float> delta = round_to(dt, random_floats(x.size(), -1.0f, 1.0f));
          const std::vector<float> bias = random_floats(C, -0.5f, 0.5f);
          const std::vector<float> w = random_floats(C, 0.5f, 1.5f), b = random_floats(C, -0.5f, 0.5f);
          DeviceTensor dx(dt, x), dd(dt, delta), dbias(DType::f32, bias), dw(DType::f32, w), db(DType::f32, b), dy(dt, x.size());
          dy.poison();
          REQUIRE_OK(cuclip::kernels::add_layernorm_forward(dt, rows, C, dx.get(), dd.get(),
                                                            with_bias ? (const float*)dbias.get() : nullptr,
                                                            (const float*)dw.get(), (const float*)db.get(), kEps, dy.get(), nullptr));
          // The reference: the sum rounded to dt (what the kernel stores), then LayerNorm of it.
          std::vector<float> sum(x.size()), ref(x.size());
          for (size_t i = 0; i < x.size(); ++i) sum[i] = round_to(dt, x[i] + delta[i] + (with_bias ? bias[i % C] : 0.0f));
          cuclip::cpu::layernorm(rows, C, sum.data(), C, w.data(), b.data(), kEps, ref.data(), C);
          // The stored sum: one f32 add (exact for 16-bit inputs before the bias) rounded once.
          CUCLIP_REQUIRE_CLOSE(dx.download(), sum, 1e-6, rtol_of(dt));
          CUCLIP_REQUIRE_CLOSE(dy.download(), ref, atol_of(dt), rtol_of(dt));
        }
      }
}

TEST_CASE("layernorm_rejects_bad_shapes_and_skips_empty_ones", "[gpu_kernels][layernorm]") {
  DeviceTensor x(DType::f32, 16);
  REQUIRE_ERROR(cuclip::kernels::layernorm_forward(DType::f32, -1, 16, x.get(), nullptr, nullptr, kEps, x.get(), nullptr), "rows");
  REQUIRE_ERROR(cuclip::kernels::layernorm_forward(DType::f32, 1, 0, x.get(), nullptr, nullptr, kEps, x.get(), nullptr), "C");
  REQUIRE_ERROR(cuclip::kernels::layernorm_forward(DType::f32, 1, 100000, x.get(), nullptr, nullptr, kEps, x.get(), nullptr), "C");
  REQUIRE_OK(cuclip::kernels::layernorm_forward(DType::f32, 0, 16, x.get(), nullptr, nullptr, kEps, x.get(), nullptr));
}
