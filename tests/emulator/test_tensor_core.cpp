// Tensor-core and async-copy wrappers under emulation: ldmatrix fragments follow the PTX ISA layout,
// mma.m16n8k16 (f16 and bf16, with fragments loaded directly or through ldmatrix) matches a CPU
// matmul, a fragment-layout bug produces wrong results, and cp.async completes at the wait.
#include <cmath>

#include "base/half.hpp"
#include "emu_testing.hpp"
#include "test_kernels.hpp"

using namespace cuclip_test;

TEST_CASE("ldmatrix_fragments_follow_the_ptx_layout", "[emulator][tensor]") {
  CUCLIP_SEED_INFO();
  std::vector<int> raw = random_ints(256, 0, 65535);
  std::vector<uint16_t> tile(raw.begin(), raw.end());
  DeviceBuffer<uint16_t> d_tile(256);
  DeviceBuffer<uint32_t> out(128);
  d_tile.upload(tile);
  struct Mode {
    int num;
    bool trans;
  };
  for (Mode mode : {Mode{1, false}, Mode{2, false}, Mode{4, false}, Mode{2, true}, Mode{4, true}}) {
    out.poison();
    REQUIRE_OK(ldmatrix_fragments(out.get(), d_tile.get(), mode.num, mode.trans, nullptr));
    std::vector<uint32_t> got = out.download();
    // Matrix i is the 8x8 quadrant the kernel's lanes 8i..8i+7 point at.
    auto element = [&](int matrix, int row, int col) {
      return tile[((matrix % 2) * 8 + row) * 16 + (matrix / 2) * 8 + col];
    };
    for (int lane = 0; lane < 32; ++lane) {
      for (int i = 0; i < 4; ++i) {
        uint32_t want = 0;
        if (i < mode.num) {
          int r = lane / 4, c = 2 * (lane % 4);
          uint16_t lo = mode.trans ? element(i, c, r) : element(i, r, c);
          uint16_t hi = mode.trans ? element(i, c + 1, r) : element(i, r, c + 1);
          want = lo | (static_cast<uint32_t>(hi) << 16);
        }
        INFO("num " << mode.num << " trans " << mode.trans << " lane " << lane << " register " << i);
        REQUIRE(got[lane * 4 + i] == want);
      }
    }
  }
}

namespace {

struct MmaCase {
  int m, n, k;
  bool bf16, via_ldmatrix;
};

// Runs the mma kernel on fresh random inputs; returns the worst |got - ref| / tolerance.
double mma_worst_excess(const MmaCase& c, bool swapped) {
  std::vector<float> af = random_floats(static_cast<size_t>(c.m) * c.k), bf = random_floats(static_cast<size_t>(c.k) * c.n);
  std::vector<uint16_t> a(af.size()), b(bf.size());
  // The reference multiplies the values the kernel sees: the inputs rounded to f16/bf16.
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = c.bf16 ? cuclip::f32_to_bf16(af[i]) : cuclip::f32_to_f16(af[i]);
    af[i] = c.bf16 ? cuclip::bf16_to_f32(a[i]) : cuclip::f16_to_f32(a[i]);
  }
  for (size_t i = 0; i < b.size(); ++i) {
    b[i] = c.bf16 ? cuclip::f32_to_bf16(bf[i]) : cuclip::f32_to_f16(bf[i]);
    bf[i] = c.bf16 ? cuclip::bf16_to_f32(b[i]) : cuclip::f16_to_f32(b[i]);
  }
  DeviceBuffer<uint16_t> da(a.size()), db(b.size());
  DeviceBuffer<float> dd(static_cast<size_t>(c.m) * c.n);
  da.upload(a);
  db.upload(b);
  dd.poison();
  REQUIRE_OK(mma_gemm(dd.get(), da.get(), db.get(), c.m, c.n, c.k, c.bf16, c.via_ldmatrix, swapped, nullptr));
  std::vector<float> got = dd.download();
  double worst = 0;
  for (int i = 0; i < c.m; ++i) {
    for (int j = 0; j < c.n; ++j) {
      double ref = 0, mag = 0;
      for (int p = 0; p < c.k; ++p) {
        ref += static_cast<double>(af[i * c.k + p]) * bf[p * c.n + j];
        mag += std::fabs(static_cast<double>(af[i * c.k + p]) * bf[p * c.n + j]);
      }
      // Products are exact in f32; k sequential f32 additions each err by at most 2^-24 of the
      // running magnitude, so k * 2^-24 * sum|a*b| bounds the accumulation error (+ a tiny floor).
      double tol = c.k * std::ldexp(1.0, -24) * mag + 1e-30;
      double g = got[i * c.n + j];
      double excess = std::isnan(g) ? INFINITY : std::fabs(g - ref) / tol;
      worst = std::max(worst, excess);
    }
  }
  return worst;
}

}  // namespace

TEST_CASE("mma_m16n8k16_matches_a_cpu_matmul", "[emulator][tensor]") {
  CUCLIP_SEED_INFO();
  for (bool bf16 : {false, true}) {
    for (bool via_ldmatrix : {false, true}) {
      for (MmaCase c : {MmaCase{16, 8, 16, bf16, via_ldmatrix}, MmaCase{48, 24, 64, bf16, via_ldmatrix}}) {
        INFO("m " << c.m << " n " << c.n << " k " << c.k << " bf16 " << bf16 << " ldmatrix " << via_ldmatrix);
        REQUIRE(mma_worst_excess(c, false) <= 1.0);
      }
    }
  }
}

TEST_CASE("mma_with_a_fragment_layout_bug_gives_wrong_results", "[emulator][tensor]") {
  CUCLIP_SEED_INFO();
  // Swapping a[1] and a[2] (rows g+8 vs columns 8..15) is a classic indexing bug: on the GPU it
  // computes garbage, and so must the emulator.
  for (bool bf16 : {false, true}) {
    INFO("bf16 " << bf16);
    CHECK(mma_worst_excess(MmaCase{32, 16, 32, bf16, false}, true) > 1000.0);
  }
}

TEST_CASE("cp_async_copies_complete_at_the_wait_for_their_group", "[emulator][tensor]") {
  CUCLIP_SEED_INFO();
  std::vector<int> raw = random_ints(256, 0, 1 << 30);
  std::vector<uint32_t> src(raw.begin(), raw.end());
  DeviceBuffer<uint32_t> d_src(256), after1(256), after0(128);
  d_src.upload(src);
  after1.poison();
  after0.poison();
  REQUIRE_OK(cp_async_groups(after1.get(), after0.get(), d_src.get(), nullptr));
  std::vector<uint32_t> w1 = after1.download(), w0 = after0.download();
  for (int t = 0; t < 32; ++t) {
    for (int i = 0; i < 4; ++i) {
      INFO("thread " << t << " word " << i);
      REQUIRE(w1[t * 4 + i] == src[t * 4 + i]);  // group 0 retired by wait<1>
#if defined(CUCLIP_EMU)
      REQUIRE(w1[128 + t * 4 + i] == 0xffffffffu);  // group 1 still in flight: the poison (on a GPU it may have landed)
#endif
      REQUIRE(w0[t * 4 + i] == (i == 0 ? src[128 + t * 4] : 0u));  // 4 bytes copied, 12 zero-filled
    }
  }
}
