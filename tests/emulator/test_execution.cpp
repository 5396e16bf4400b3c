// The emulator's execution model: barriers, shuffles with widths, votes, atomics across blocks,
// per-block shared memory, dynamic shared memory, deterministic block order, launch validation.
// Built for the GPU too (emulator_execution_gpu): the checks that only hold in the emulator (poison,
// block order, its own messages) are under CUCLIP_EMU.
#include "emu_testing.hpp"
#include "test_kernels.hpp"
#if defined(CUCLIP_EMU)
#include "kernels/emu/emulator.hpp"
#endif

using namespace cuclip_test;

TEST_CASE("barriers_order_a_block_scan_in_shared_memory", "[emulator]") {
  CUCLIP_SEED_INFO();
  for (int n : {1, 32, 50, 77, 256, 1024}) {
    const int blocks = 3;
    std::vector<int> in = random_ints(static_cast<size_t>(blocks) * n, -100, 100);
    DeviceBuffer<int> d_in(in.size()), d_out(in.size());
    d_in.upload(in);
    d_out.poison();
    REQUIRE_OK(block_scan(d_out.get(), d_in.get(), blocks, n, nullptr));
    std::vector<int> got = d_out.download(), want(in.size());
    for (int b = 0; b < blocks; ++b) {
      int acc = 0;
      for (int t = 0; t < n; ++t) want[b * n + t] = acc += in[b * n + t];
    }
    INFO("n = " << n);
    REQUIRE(got == want);
  }
}

TEST_CASE("barrier_publishes_static_shared_writes_of_every_block", "[emulator]") {
  const int blocks = 5, n = 96;
  DeviceBuffer<int> out(blocks * n);
  out.poison();
  REQUIRE_OK(neighbour_exchange(out.get(), blocks, n, nullptr));
  std::vector<int> got = out.download();
  for (int b = 0; b < blocks; ++b)
    for (int t = 0; t < n; ++t) REQUIRE(got[b * n + t] == ((t + 1) % n) * 3 + 1000 * b);
}

TEST_CASE("syncthreads_count_and_or_reduce_predicates", "[emulator]") {
  CUCLIP_SEED_INFO();
  const int blocks = 4, n = 128;
  std::vector<int> pred = random_ints(blocks * n, 0, 1);
  for (int t = 0; t < n; ++t) pred[1 * n + t] = 1;  // block 1: all true
  for (int t = 0; t < n; ++t) pred[2 * n + t] = 0;  // block 2: all false
  DeviceBuffer<int> d_pred(pred.size()), out(blocks * 3);
  d_pred.upload(pred);
  out.poison();
  REQUIRE_OK(barrier_reductions(out.get(), d_pred.get(), blocks, n, nullptr));
  std::vector<int> got = out.download();
  for (int b = 0; b < blocks; ++b) {
    int count = 0;
    for (int t = 0; t < n; ++t) count += pred[b * n + t];
    CHECK(got[b * 3 + 0] == count);
    CHECK(got[b * 3 + 1] == (count == n ? 1 : 0));
    CHECK(got[b * 3 + 2] == (count > 0 ? 1 : 0));
  }
}

// The source lane of each CUDA shuffle, as the CUDA programming guide describes them (independent
// of the emulator's PTX-style formulation): segments of `width` lanes; idx wraps modulo width; up and
// down return the caller's own value when the source leaves the segment; xor may read lower
// segments but not higher ones.
static int expected_source(int mode, int lane, int arg, int width) {
  int seg = lane / width * width;
  switch (mode) {
    case 0: return seg + ((arg % 32) % width);
    case 1: return lane - seg >= (arg % 32) ? lane - (arg % 32) : lane;
    case 2: return lane - seg + (arg % 32) < width ? lane + (arg % 32) : lane;
    case 3: {
      int j = lane ^ (arg % 32);
      return j < seg + width ? j : lane;
    }
  }
  return -1;
}

TEST_CASE("shuffles_match_cuda_semantics_for_every_mode_and_width", "[emulator]") {
  CUCLIP_SEED_INFO();
  const int n = 128;  // 2 blocks of 2 warps
  for (int mode = 0; mode < 4; ++mode) {
    for (int width : {1, 2, 4, 8, 16, 32}) {
      std::vector<int> in = random_ints(n, -1000000, 1000000);
      std::vector<int> arg = mode == 0 ? random_ints(n, 0, 63) : std::vector<int>(n, 0);
      if (mode != 0) {
        int uniform = random_ints(1, 0, 31)[0];  // up/down/xor: one delta per warp call site
        for (int& a : arg) a = uniform;
      }
      DeviceBuffer<int> d_in(n), d_arg(n), out(n);
      d_in.upload(in);
      d_arg.upload(arg);
      out.poison();
      REQUIRE_OK(shuffle(out.get(), d_in.get(), d_arg.get(), mode, width, n, nullptr));
      std::vector<int> got = out.download();
      for (int i = 0; i < n; ++i) {
        int lane = i % 32, warp_base = i - lane;
        int src = expected_source(mode, lane, arg[i], width);
        INFO("mode " << mode << " width " << width << " lane " << lane << " arg " << arg[i]);
        REQUIRE(got[i] == in[warp_base + src]);
      }
    }
  }
}

TEST_CASE("shuffles_carry_64_bit_values", "[emulator]") {
  CUCLIP_SEED_INFO();
  const int n = 64;
  std::vector<double> in(n);
  for (int i = 0; i < n; ++i) in[i] = 1e300 / (i + 1) + i;
  std::vector<int> src = random_ints(n, 0, 31);
  DeviceBuffer<double> d_in(n), out(n);
  DeviceBuffer<int> d_src(n);
  d_in.upload(in);
  d_src.upload(src);
  out.poison();
  REQUIRE_OK(shuffle_double(out.get(), d_in.get(), d_src.get(), n, nullptr));
  std::vector<double> got = out.download();
  for (int i = 0; i < n; ++i) REQUIRE(got[i] == in[i / 32 * 32 + src[i]]);
}

TEST_CASE("votes_over_full_and_partial_masks", "[emulator]") {
  CUCLIP_SEED_INFO();
  const int n = 64;
  for (unsigned mask : {0xffffffffu, 0x55555555u, 0x0000ff00u, 0x80000001u}) {
    std::vector<int> pred = random_ints(n, 0, 1);
    DeviceBuffer<int> d_pred(n);
    DeviceBuffer<unsigned> out(n * 3);
    d_pred.upload(pred);
    out.poison();
    REQUIRE_OK(votes(out.get(), d_pred.get(), mask, n, nullptr));
    std::vector<unsigned> got = out.download();
    for (int w = 0; w < n / 32; ++w) {
      unsigned ballot = 0;
      for (int l = 0; l < 32; ++l)
        if ((mask >> l & 1u) && pred[w * 32 + l]) ballot |= 1u << l;
      for (int l = 0; l < 32; ++l) {
        int i = w * 32 + l;
        INFO("mask " << mask << " lane " << l);
        if (!(mask >> l & 1u)) {
          REQUIRE(got[i * 3] == 0xffffffffu);  // never written
          continue;
        }
        REQUIRE(got[i * 3 + 0] == ballot);
        REQUIRE(got[i * 3 + 1] == (ballot == mask ? 1u : 0u));
        REQUIRE(got[i * 3 + 2] == (ballot != 0 ? 1u : 0u));
      }
    }
  }
}

TEST_CASE("activemask_names_only_lanes_that_exist_and_includes_the_caller", "[emulator]") {
  const int n = 40;  // warp 1 has 8 lanes
  DeviceBuffer<unsigned> out(n);
  out.poison();
  REQUIRE_OK(active_masks(out.get(), n, nullptr));
  std::vector<unsigned> got = out.download();
  for (int t = 0; t < n; ++t) {
    unsigned existing = t < 32 ? 0xffffffffu : 0xffu;
    CHECK((got[t] & ~existing) == 0);
    CHECK((got[t] >> (t % 32) & 1u) == 1u);
  }
}

TEST_CASE("atomics_are_exact_across_parallel_blocks", "[emulator]") {
#if defined(CUCLIP_EMU)
  cuclip::emu::set_deterministic(false);
#endif
  const int blocks = 48, n = 128;
  DeviceBuffer<int> counters(4);
  DeviceBuffer<float> sum(1);
  REQUIRE_OK(gpu::memset(counters.get(), 0, 4 * sizeof(int), nullptr));
  REQUIRE_OK(gpu::memset(sum.get(), 0, sizeof(float), nullptr));
  REQUIRE_OK(atomics(counters.get(), sum.get(), blocks, n, nullptr));
  std::vector<int> c = counters.download();
  CHECK(c[0] == blocks * n);
  CHECK(c[1] == blocks * n - 1);
  CHECK(c[2] == blocks * n);
  CHECK(c[3] == 7);
  CHECK(sum.download()[0] == static_cast<float>(blocks * n));  // integers below 2^24 add exactly
}

TEST_CASE("static_shared_memory_is_private_to_each_block_under_parallel_blocks", "[emulator]") {
#if defined(CUCLIP_EMU)
  cuclip::emu::set_deterministic(false);
#endif
  const int blocks = 64;
  DeviceBuffer<int> ok(blocks);
  ok.poison();
  REQUIRE_OK(shared_isolation(ok.get(), blocks, nullptr));
  std::vector<int> got = ok.download();
  for (int b = 0; b < blocks; ++b) REQUIRE(got[b] == 1);
}

TEST_CASE("dynamic_shared_memory_is_poisoned_per_block_and_round_trips", "[emulator]") {
  CUCLIP_SEED_INFO();
  const int blocks = 3, count = 200;
  std::vector<float> in = random_floats(blocks * count);
  DeviceBuffer<float> d_in(in.size()), out(in.size());
  DeviceBuffer<uint32_t> first(in.size());
  d_in.upload(in);
  out.poison();
  REQUIRE_OK(dynamic_smem_roundtrip(first.get(), out.get(), d_in.get(), blocks, count, nullptr));
  std::vector<float> got = out.download();
  std::vector<uint32_t> first_read = first.download();
  for (int b = 0; b < blocks; ++b) {
    for (int i = 0; i < count; ++i) {
      REQUIRE(got[b * count + i] == in[b * count + count - 1 - i]);
#if defined(CUCLIP_EMU)
      REQUIRE(first_read[b * count + i] == 0xffffffffu);  // blocks 1, 2 do not see block 0's data
#endif
    }
  }
}

TEST_CASE("dynamic_shared_memory_above_48k_needs_the_opt_in_attribute", "[emulator]") {
  DeviceBuffer<float> out(1);
#if defined(CUCLIP_EMU)
  REQUIRE_ERROR(big_dynamic_smem(out.get(), 64 * 1024, false, nullptr), "big_dynamic_smem_kernel",
                "cudaFuncSetAttribute");
#else
  REQUIRE_ERROR(big_dynamic_smem(out.get(), 64 * 1024, false, nullptr), "big_dynamic_smem_kernel");
#endif
  REQUIRE_OK(big_dynamic_smem(out.get(), 64 * 1024, true, nullptr));
  CHECK(out.download()[0] == 64 * 1024 / 4 - 1);
  REQUIRE_OK(big_dynamic_smem(out.get(), 232448, true, nullptr));
  REQUIRE_FALSE(big_dynamic_smem(out.get(), 232448 + 4, true, nullptr).ok());  // over sm_90's 227 KiB
}

#if defined(CUCLIP_EMU)
TEST_CASE("deterministic_mode_runs_blocks_in_order", "[emulator]") {
  cuclip::emu::set_deterministic(true);
  const int blocks = 300;
  DeviceBuffer<int> out(blocks), counter(1);
  REQUIRE_OK(gpu::memset(counter.get(), 0, sizeof(int), nullptr));
  REQUIRE_OK(block_tickets(out.get(), counter.get(), blocks, nullptr));
  std::vector<int> got = out.download();
  for (int b = 0; b < blocks; ++b) REQUIRE(got[b] == b);
  cuclip::emu::set_deterministic(false);
}
#endif

TEST_CASE("launch_configuration_is_validated_like_cuda", "[emulator]") {
  DeviceBuffer<int> out(1);
  REQUIRE_OK(gpu::memset(out.get(), 0, sizeof(int), nullptr));
  REQUIRE_OK(configured_launch(out.get(), dim3(2, 3, 4), dim3(8, 4, 2), nullptr));
  CHECK(out.download()[0] == 24);
  REQUIRE_ERROR(configured_launch(out.get(), dim3(1), dim3(2048), nullptr), "configured_kernel", "cudaErrorInvalidValue");
  REQUIRE_ERROR(configured_launch(out.get(), dim3(1), dim3(1, 1, 65), nullptr), "cudaErrorInvalidValue");
  REQUIRE_ERROR(configured_launch(out.get(), dim3(0), dim3(32), nullptr), "cudaErrorInvalidValue");
  REQUIRE_ERROR(configured_launch(out.get(), dim3(1, 65536), dim3(32), nullptr), "cudaErrorInvalidValue");
}
