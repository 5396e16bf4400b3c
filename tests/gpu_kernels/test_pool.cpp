// kernels/pool.cu: the pooled-row gather (any rows, repeated ones included) and the L2
// normalization to f32 against cuclip::cpu::l2_normalize_rows, including all-zero rows and rows
// whose squares underflow f32.
#include <algorithm>
#include <cmath>
#include <random>

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

TEST_CASE("top_k_rows_matches_a_full_sort_with_ties_and_nan", "[gpu_kernels][pool]") {
  CUCLIP_SEED_INFO();
  std::mt19937 rng(test_seed());
  for (int K : {1, 7, 33, 1000})
    for (int k : {1, 2, 5, K}) {
      if (k > K) continue;
      const int B = 6;
      INFO("K " << K << " k " << k);
      std::vector<float> x = random_floats((size_t)B * K, 0.0f, 1.0f);
      for (int j = 0; j < K; j += 3) x[(size_t)K + j] = 0.25f;              // row 1: many ties
      for (int j = 0; j < K; ++j) x[(size_t)2 * K + j] = std::nanf("");      // row 2: all NaN
      if (K > 4) x[(size_t)3 * K + 4] = std::nanf("");                      // row 3: one NaN
      for (int j = 0; j < K; ++j) x[(size_t)4 * K + j] = (float)(j % 4);    // row 4: ties at the top
      DeviceBuffer<float> dx((size_t)B * K), dp((size_t)B * k);
      DeviceBuffer<int32_t> di((size_t)B * k);
      dx.upload(x);
      dp.poison();
      di.poison();
      REQUIRE_OK(cuclip::kernels::top_k_rows_forward(B, K, k, dx.get(), di.get(), dp.get(), nullptr));
      const std::vector<float> gp = dp.download();
      const std::vector<int32_t> gi = di.download();
      for (int b = 0; b < B; ++b) {
        std::vector<int> order((size_t)K);
        for (int j = 0; j < K; ++j) order[(size_t)j] = j;
        const float* row = x.data() + (size_t)b * K;
        std::stable_sort(order.begin(), order.end(), [&](int a, int c) {  // stable: ties keep the lower index
          const bool na = std::isnan(row[a]), nc = std::isnan(row[c]);
          if (na != nc) return nc;
          return !na && row[a] > row[c];
        });
        for (int r = 0; r < k; ++r) {
          INFO("row " << b << " rank " << r);
          CHECK(gi[(size_t)b * k + r] == order[(size_t)r]);
          const float want = row[order[(size_t)r]], got = gp[(size_t)b * k + r];
          CHECK(((std::isnan(want) && std::isnan(got)) || want == got));
        }
      }
    }
  CHECK(cuclip::kernels::top_k_rows_forward(1, 4, 5, nullptr, nullptr, nullptr, nullptr).code == CUCLIP_ERR_INVALID_ARGUMENT);
  CHECK(cuclip::kernels::top_k_rows_forward(1, 4, 0, nullptr, nullptr, nullptr, nullptr).code == CUCLIP_ERR_INVALID_ARGUMENT);
}
