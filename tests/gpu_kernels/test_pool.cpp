// kernels/pool.cu: the pooled-row gather (any rows, repeated ones included) and the L2
// normalization to f32 against cuclip::cpu::l2_normalize_rows, including all-zero rows and rows
// whose squares underflow f32.
#include <cmath>

#include "cuclip/cpu_ops.hpp"
#include "kernel_testing.hpp"
#include "kernels/pool.hpp"

using namespace cuclip_test;

TEST_CASE("gather_rows_copies_the_indexed_rows", "[gpu_kernels][pool]") {
  CUCLIP_SEED_INFO();
  for (DType dt : kAllDtypes)
    for (int B : {1, 5, 33})
      for (int C : {16, 80, 771}) {
        INFO(dtype_name(dt) << " B " << B << " C " << C);
        const int rows = 257;
        const std::vector<float> x = round_to(dt, random_floats((size_t)rows * C));
        std::vector<int> idx = random_ints(B, 0, rows - 1);
        idx[0] = rows - 1;  // the last row: an off-by-one past it would fault under the emulator
        DeviceTensor dx(dt, x), out(dt, (size_t)B * C);
        DeviceBuffer<int32_t> didx(B);
        didx.upload(std::vector<int32_t>(idx.begin(), idx.end()));
        out.poison();
        REQUIRE_OK(cuclip::kernels::gather_rows_forward(dt, B, C, dx.get(), didx.get(), out.get(), nullptr));
        std::vector<float> ref((size_t)B * C);
        for (int b = 0; b < B; ++b)
          for (int c = 0; c < C; ++c) ref[(size_t)b * C + c] = x[(size_t)idx[b] * C + c];
        CUCLIP_REQUIRE_CLOSE(out.download(), ref, 0.0, 0.0);  // a copy
      }
}

TEST_CASE("l2_normalize_matches_cpu_reference_with_zero_and_tiny_rows", "[gpu_kernels][pool]") {
  CUCLIP_SEED_INFO();
  for (DType dt : kAllDtypes)
    for (int B : {1, 4, 9})
      for (int D : {24, 32, 512, 1000}) {
        INFO(dtype_name(dt) << " B " << B << " D " << D);
        std::vector<float> x = round_to(dt, random_floats((size_t)B * D, -3.0f, 3.0f));
        if (B > 1)
          for (int d = 0; d < D; ++d) x[(size_t)D + d] = 0.0f;  // an all-zero row stays zero
        if (B > 2 && dt == DType::f32)
          for (int d = 0; d < D; ++d) x[(size_t)2 * D + d] *= 1e-30f;  // squares underflow f32
        DeviceTensor dx(dt, x), out(DType::f32, x.size());
        out.poison();
        REQUIRE_OK(cuclip::kernels::l2_normalize_forward(dt, B, D, dx.get(), (float*)out.get(), nullptr));
        std::vector<float> ref = x;
        cuclip::cpu::l2_normalize_rows(B, D, ref.data());
        // Unit vectors with f32 sums of D squares against double ones: a few ulp of 1.
        CUCLIP_REQUIRE_CLOSE(out.download(), ref, 1e-6, 1e-5);
      }
}

TEST_CASE("l2_normalize_propagates_nan", "[gpu_kernels][pool]") {
  std::vector<float> x(2 * 8, 1.0f);
  x[3] = std::nanf("");
  DeviceTensor dx(DType::f32, x), out(DType::f32, x.size());
  REQUIRE_OK(cuclip::kernels::l2_normalize_forward(DType::f32, 2, 8, dx.get(), (float*)out.get(), nullptr));
  const std::vector<float> got = out.download();
  for (int d = 0; d < 8; ++d) CHECK(std::isnan(got[(size_t)d]));
  for (int d = 8; d < 16; ++d) CHECK(got[(size_t)d] == Approx(1.0 / std::sqrt(8.0)));
}
