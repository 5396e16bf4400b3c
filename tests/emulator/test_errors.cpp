// Violations of CUDA's rules are launch errors that name the kernel, never silent passes: barrier
// divergence, shuffles outside their mask, out-of-bounds memory, deadlock, stack overflow, __trap.
// After each failure the emulator must run the next launch normally.
#include <cstdlib>
#include <string>

#include "emu_testing.hpp"
#include "kernels/example_reduce.hpp"
#include "test_kernels.hpp"

using namespace cuclip_test;

// CUCLIP_EMU_GUARD=front moves allocations against their leading guard page: overruns are then
// caught past the padding only, underruns exactly. The placement tests below follow the mode.
static bool guard_at_front() {
  const char* v = std::getenv("CUCLIP_EMU_GUARD");
  return v && std::string(v) == "front";
}

// A healthy launch right after a failed one: the emulator recovered its fibers and host threads.
static void require_next_launch_works() {
  DeviceBuffer<float> x(64), out(1);
  x.upload(std::vector<float>(64, 0.5f));
  REQUIRE_OK(cuclip::kernels::row_sum_forward(out.get(), x.get(), 1, 64, nullptr));
  CHECK(out.download()[0] == 32.0f);
}

TEST_CASE("thread_skipping_a_barrier_is_barrier_divergence", "[emulator][errors]") {
  DeviceBuffer<int> out(64);
  REQUIRE_LAUNCH_ERROR(thread0_skips_barrier(out.get(), nullptr), "thread0_skips_barrier_kernel", "barrier divergence",
                "kernels_errors.cu:", "thread (0,0,0)");
  require_next_launch_works();
}

TEST_CASE("threads_at_different_barrier_sites_is_barrier_divergence", "[emulator][errors]") {
  DeviceBuffer<int> out(64);
  REQUIRE_LAUNCH_ERROR(barriers_at_two_sites(out.get(), nullptr), "barriers_at_two_sites_kernel", "barrier divergence",
                "kernels_errors.cu:");
  require_next_launch_works();
}

TEST_CASE("shuffle_reading_a_lane_outside_the_mask_is_an_error", "[emulator][errors]") {
  DeviceBuffer<int> out(32);
  REQUIRE_LAUNCH_ERROR(shuffle_reads_lane_outside_mask(out.get(), nullptr), "shuffle_outside_mask_kernel",
                "reads lane 20, which is not in the mask");
}

TEST_CASE("shuffle_mask_without_the_calling_lane_is_an_error", "[emulator][errors]") {
  DeviceBuffer<int> out(1);
  REQUIRE_LAUNCH_ERROR(shuffle_mask_without_own_lane(out.get(), nullptr), "mask without its own lane 0");
}

TEST_CASE("shuffle_mask_naming_an_exited_lane_is_an_error", "[emulator][errors]") {
  DeviceBuffer<int> out(32);
  REQUIRE_LAUNCH_ERROR(shuffle_waits_for_exited_lane(out.get(), nullptr), "shuffle_exited_lane_kernel", "exited");
  require_next_launch_works();
}

TEST_CASE("reading_one_element_past_an_allocation_reports_kernel_and_offset", "[emulator][errors]") {
  if (guard_at_front()) {
    DeviceBuffer<float> x(7), out(1);
    REQUIRE_LAUNCH_ERROR(read_at_index(out.get(), x.get(), -1, nullptr), "read_at_index_kernel", "before the start");
    return;
  }
  for (int n : {1, 7, 1000, 1024}) {
    DeviceBuffer<float> x(n), out(1);
    INFO("n = " << n);
    const std::string offset = "byte offset " + std::to_string(n * 4) + " ";
    REQUIRE_LAUNCH_ERROR(read_at_index(out.get(), x.get(), n, nullptr), "read_at_index_kernel", "invalid read",
                  offset.c_str(), "past its end", "cudaErrorIllegalAddress");
  }
  require_next_launch_works();
}

TEST_CASE("writing_past_an_allocation_is_reported", "[emulator][errors]") {
  DeviceBuffer<float> x(guard_at_front() ? 1024 : 256);
  if (guard_at_front()) {
    REQUIRE_LAUNCH_ERROR(write_at_index(x.get(), 1024, nullptr), "write_at_index_kernel", "invalid write", "past its end");
    return;
  }
  REQUIRE_LAUNCH_ERROR(write_at_index(x.get(), 256, nullptr), "write_at_index_kernel", "invalid write", "past its end");
  REQUIRE_LAUNCH_ERROR(write_at_index(x.get(), 300, nullptr), "write_at_index_kernel", "past its end");
}

TEST_CASE("accesses_before_an_allocation_are_reported", "[emulator][errors]") {
  if (guard_at_front()) return;  // covered by the reading test above in that mode
  // A page-sized allocation starts on the leading guard page: reads before it fault.
  DeviceBuffer<float> page(1024), out(1);
  REQUIRE_LAUNCH_ERROR(read_at_index(out.get(), page.get(), -1, nullptr), "read_at_index_kernel", "before the start");
  // Otherwise the bytes before the start are padding holding a canary: writes there are caught
  // after the launch.
  DeviceBuffer<float> small(10);
  REQUIRE_LAUNCH_ERROR(write_at_index(small.get(), -1, nullptr), "write_at_index_kernel", "padding", "out-of-bounds write");
  require_next_launch_works();
}

TEST_CASE("dynamic_shared_memory_overrun_is_reported", "[emulator][errors]") {
  DeviceBuffer<float> out(1);
  REQUIRE_LAUNCH_ERROR(dynamic_smem_overrun(out.get(), 64, nullptr), "dynamic_smem_overrun_kernel",
                "dynamic shared memory, past its end");
  REQUIRE_LAUNCH_ERROR(dynamic_smem_overrun(out.get(), 0, nullptr), "dynamic_smem_overrun_kernel", "dynamic shared memory");
}

TEST_CASE("warp_waiting_for_lanes_stuck_at_a_barrier_is_a_deadlock", "[emulator][errors]") {
  DeviceBuffer<int> out(32);
  REQUIRE_LAUNCH_ERROR(warp_waits_on_barrier_deadlock(out.get(), nullptr), "deadlock_kernel", "deadlock", "__syncwarp");
  require_next_launch_works();
}

TEST_CASE("fiber_stack_overflow_is_reported", "[emulator][errors]") {
  DeviceBuffer<int> out(1);
  REQUIRE_LAUNCH_ERROR(overflow_stack(out.get(), 64, nullptr), "overflow_stack_kernel", "stack overflow", "CUCLIP_EMU_STACK_KB");
  REQUIRE_OK(overflow_stack(out.get(), 4, nullptr));
  require_next_launch_works();
}

TEST_CASE("trap_fails_the_launch", "[emulator][errors]") {
  DeviceBuffer<int> out(32);
  REQUIRE_LAUNCH_ERROR(call_trap(out.get(), nullptr), "trap_kernel", "__trap()", "thread (5,0,0)");
}

TEST_CASE("misaligned_ldmatrix_row_is_an_error", "[emulator][errors]") {
  DeviceBuffer<uint32_t> out(32);
  REQUIRE_LAUNCH_ERROR(ldmatrix_misaligned(out.get(), nullptr), "ldmatrix_misaligned_kernel", "16-byte aligned");
}

TEST_CASE("a_failed_launch_is_reported_again_by_the_next_synchronize", "[emulator][errors]") {
  gpu::Stream s = nullptr;
  REQUIRE_OK(gpu::stream_create(&s));
  DeviceBuffer<int> out(64);
  REQUIRE_FALSE(thread0_skips_barrier(out.get(), s).ok());
  REQUIRE_ERROR(gpu::stream_synchronize(s), "thread0_skips_barrier_kernel", "barrier divergence");
  REQUIRE_OK(gpu::stream_synchronize(s));  // reported once
  REQUIRE_OK(gpu::stream_destroy(s));
  (void)gpu::device_synchronize();
}
