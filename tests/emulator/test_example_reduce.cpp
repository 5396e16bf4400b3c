// kernels/example_reduce.cu under emulation: row sums against a double-precision CPU reference at
// CLIP-like shapes (sequence lengths 1, 50, 77, 257; widths 64, 80, 768 and ones that are not
// multiples of the block or warp size), on fresh random inputs with poisoned outputs.
#include <cmath>

#include "emu_testing.hpp"
#include "kernels/example_reduce.hpp"

using namespace cuclip_test;

TEST_CASE("row_sum_matches_cpu_reference_at_clip_shapes", "[emulator][example]") {
  CUCLIP_SEED_INFO();
  for (int rows : {1, 2, 50, 77, 257}) {
    for (int cols : {1, 31, 64, 80, 257, 768, 1000}) {
      std::vector<float> x = random_floats(static_cast<size_t>(rows) * cols, -2.0f, 2.0f);
      DeviceBuffer<float> dx(x.size()), out(rows);
      dx.upload(x);
      out.poison();
      REQUIRE_OK(cuclip::kernels::row_sum_forward(out.get(), dx.get(), rows, cols, nullptr));
      std::vector<float> got = out.download(), ref(rows);
      std::vector<double> mag(rows);
      for (int r = 0; r < rows; ++r) {
        double s = 0, m = 0;
        for (int c = 0; c < cols; ++c) {
          s += x[static_cast<size_t>(r) * cols + c];
          m += std::fabs(x[static_cast<size_t>(r) * cols + c]);
        }
        ref[r] = static_cast<float>(s);
        mag[r] = m;
      }
      // The kernel adds cols values in f32 (strided partials, then a tree): each of at most
      // cols additions errs by 2^-24 of the magnitude, so cols * 2^-24 * sum|x| bounds it.
      double max_mag = *std::max_element(mag.begin(), mag.end());
      INFO("rows " << rows << " cols " << cols);
      CUCLIP_REQUIRE_CLOSE(got, ref, cols * std::ldexp(1.0, -24) * max_mag + 1e-6, 0.0);
    }
  }
}

TEST_CASE("row_sum_rejects_negative_shapes_and_skips_empty_ones", "[emulator][example]") {
  DeviceBuffer<float> x(4), out(1);
  REQUIRE_ERROR(cuclip::kernels::row_sum_forward(out.get(), x.get(), -1, 4, nullptr), "negative");
  REQUIRE_OK(cuclip::kernels::row_sum_forward(out.get(), x.get(), 0, 4, nullptr));
}
