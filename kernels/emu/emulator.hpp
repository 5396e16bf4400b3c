// The emulator's host-side entry points: the type-erased kernel launch that kernels/launch.hpp
// builds, and the controls (deterministic mode, host threads, fiber stack size) with their
// environment variables.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "base/status.hpp"
#include "kernels/emu/cuda_types.hpp"

namespace cuclip::emu {

// One kernel launch: the kernel's name (for messages) and address (for attributes), the launch
// configuration, and the arguments already converted to the kernel's parameter types. invoke()
// calls the kernel with copies of them, once per emulated thread. Launches are kept by value so a
// captured graph can replay them.
struct KernelLaunch {
  const char* name = "";
  const void* kernel = nullptr;
  dim3 grid, block;
  size_t dyn_smem = 0;
  std::shared_ptr<const void> params;
  void (*invoke)(const void* params) = nullptr;
};

// Runs a launch to completion on the emulator's host threads, or records it when the stream is
// capturing. Errors (bad configuration, barrier divergence, shuffles outside their mask, faults on
// guard pages, deadlocks) come back as CUCLIP_ERR_DEVICE naming the kernel, block and thread.
Status launch_kernel(cudaStream_t stream, const KernelLaunch& launch);
// Runs a launch now; what launch_kernel and graph replay call.
Status run_kernel(const KernelLaunch& launch);

// Deterministic mode: one host thread runs the blocks in order (x fastest). Default from
// CUCLIP_EMU_DETERMINISTIC=1; otherwise blocks are spread over CUCLIP_EMU_THREADS host threads
// (default: the hardware concurrency).
void set_deterministic(bool on);
bool deterministic();
void set_host_threads(int n);  // 0 = hardware concurrency
int host_threads();
// Stack of each emulated thread (fiber), default 64 KiB or CUCLIP_EMU_STACK_KB; a guard page below
// each stack turns an overflow into a reported error.
void set_stack_size(size_t bytes);
size_t stack_size();

struct Counters {
  uint64_t launches = 0;
  uint64_t blocks = 0;
  uint64_t fiber_switches = 0;
};
Counters counters();  // since process start, all host threads together

}  // namespace cuclip::emu
