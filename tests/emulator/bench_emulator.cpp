// Measures the emulator's costs for docs/emulation.md: the fiber switch (from a barrier loop) and
// sample kernels at CLIP shapes. Not a test; run ./emulator_bench.
#include <time.h>

#include <chrono>
#include <cstdio>
#include <vector>

#include "kernels/emu/emulator.hpp"
#include "kernels/example_reduce.hpp"
#include "kernels/gpu.hpp"
#include "test_kernels.hpp"

namespace gpu = cuclip::gpu;

static double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// CPU time of all threads: less sensitive than wall time to other work on a shared machine.
static double cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void check(const cuclip::Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.message.c_str());
    std::exit(1);
  }
}

int main() {
  int* counter = nullptr;
  check(gpu::device_alloc(&counter, 1));
  for (int threads : {32, 256, 1024}) {
    const int iterations = 2000;
    auto before = cuclip::emu::counters();
    double t0 = now_ms(), c0 = cpu_ms();
    check(cuclip_test::barrier_loop(counter, threads, iterations, nullptr));
    double ms = now_ms() - t0, cpu = cpu_ms() - c0;
    auto after = cuclip::emu::counters();
    double switches = static_cast<double>(after.fiber_switches - before.fiber_switches);
    std::printf("barrier loop: %4d threads x %d barriers: %8.2f ms wall %8.2f ms cpu, %8.0f switches, %5.1f ns cpu "
                "per switch (barrier bookkeeping included)\n",
                threads, iterations, ms, cpu, switches, cpu * 1e6 / switches);
  }
  for (int rows : {77, 257}) {
    const int cols = 768;
    float *x = nullptr, *out = nullptr;
    check(gpu::device_alloc(&x, static_cast<size_t>(rows) * cols));
    check(gpu::device_alloc(&out, static_cast<size_t>(rows)));
    check(gpu::memset(x, 0, sizeof(float) * rows * cols, nullptr));
    for (bool det : {false, true}) {
      cuclip::emu::set_deterministic(det);
      check(cuclip::kernels::row_sum_forward(out, x, rows, cols, nullptr));  // warm-up
      double t0 = now_ms(), c0 = cpu_ms();
      const int reps = 5;
      for (int r = 0; r < reps; ++r) check(cuclip::kernels::row_sum_forward(out, x, rows, cols, nullptr));
      std::printf("row_sum %3d x %d (%d host threads): %7.2f ms wall %7.2f ms cpu per launch\n", rows, cols,
                  det ? 1 : cuclip::emu::host_threads(), (now_ms() - t0) / reps, (cpu_ms() - c0) / reps);
    }
    cuclip::emu::set_deterministic(false);
    check(gpu::device_free(x));
    check(gpu::device_free(out));
  }
  return 0;
}
