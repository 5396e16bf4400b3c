// Internal state of the emulator shared by the scheduler (one block's fibers), the grid runner
// (host threads, signals) and the memory guards. Not part of any public interface.
#pragma once
#include <csetjmp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kernels/emu/device.hpp"
#include "kernels/emu/emulator.hpp"
#include "kernels/emu/fiber.hpp"

namespace cuclip::emu::detail {

enum class FiberState : uint8_t { runnable, at_barrier, at_warp_op, exited };
enum class WarpOpKind : uint8_t { syncwarp, shfl, vote, ldmatrix, mma };

// What a lane brought to a warp-collective operation, and (after it completes) what it gets back.
struct WarpOp {
  WarpOpKind kind = WarpOpKind::syncwarp;
  unsigned mask = 0;
  std::source_location loc;
  ShflMode shfl_mode = ShflMode::idx;
  int shfl_arg = 0;
  int width = 32;
  uint64_t value = 0;
  uint64_t result = 0;
  VoteKind vote_kind = VoteKind::ballot;
  int num = 0;  // ldmatrix: matrices
  bool trans = false;
  const void* address = nullptr;
  uint32_t* out = nullptr;
  MmaType mma_type = MmaType::f16;
  const uint32_t* a = nullptr;
  const uint32_t* b = nullptr;
  const float* c = nullptr;
  float* d = nullptr;
};

struct CpAsyncCopy {
  void* dst;
  const void* src;
  int bytes, src_bytes;
};

// One emulated CUDA thread.
struct Fiber {
  FiberContext ctx;
  int index = 0, lane = 0, warp = 0;
  uint3 tid{};
  FiberState state = FiberState::runnable;
  int barrier_result = 0;
  WarpOp op;
  std::vector<CpAsyncCopy> cp_pending;
  std::vector<size_t> cp_group_ends;  // committed groups, as end indices into cp_pending
  sigjmp_buf fault_jmp;
  void* fault_address = nullptr;
  int fault_is_write = -1;  // -1 when the platform does not say
  bool fault_general_protection = false;  // x86: no address (misaligned SSE access, ...)
};

// Per host thread: the fibers and their stacks, reused from block to block, and the block's dynamic
// shared memory, placed so that its end touches a guard page.
struct Worker {
  ~Worker();
  std::vector<Fiber> fibers;
  std::vector<FiberStack> stacks;
  size_t stack_bytes = 0;
  char* smem_region = nullptr;
  size_t smem_region_bytes = 0;
  char* smem_end = nullptr;  // first byte of the trailing guard page
  uint64_t switches = 0;
};

// Lane bitmasks of one warp, so a warp operation checks its mask in a few instructions.
struct WarpLanes {
  unsigned exists = 0;   // lanes the block has (a partial last warp has fewer)
  unsigned exited = 0;
  unsigned waiting = 0;  // parked in a warp-collective operation
};

// The block being run on this host thread.
struct Block {
  const KernelLaunch* launch = nullptr;
  Worker* worker = nullptr;
  uint3 idx{};
  int n = 0;
  int live = 0, exited = 0, arrived = 0;
  int first_arrived = -1;  // the thread whose barrier the others must match
  std::source_location barrier_loc;
  BarrierKind barrier_kind = BarrierKind::sync;
  int barrier_acc = 0;
  std::vector<WarpLanes> warps;
  std::vector<int> queue;  // ring buffer of runnable fiber indices
  size_t q_head = 0, q_size = 0;
  FiberContext scheduler;
  bool failed = false;
  std::string error;
  char* dyn_smem = nullptr;
  size_t dyn_smem_bytes = 0;
};

extern thread_local Block* tl_block;
extern thread_local Fiber* tl_fiber;

// Runs one block to completion (or failure) on the calling host thread; false with *error set on
// failure. The worker must have at least n fibers with stacks.
bool run_block(const KernelLaunch& launch, Worker& worker, uint3 block_idx, std::string* error);

std::string describe_thread(const Fiber& f);
std::string describe_loc(const std::source_location& loc);
std::string describe_op(const WarpOp& op);

// Scheduler primitives shared by the barrier (scheduler.cpp) and the warp operations (warp.cpp).
void push_runnable(Block& b, int fiber_index);
// Parks the running fiber (its state says what it waits for) and runs the next runnable one.
void park(Fiber& self);
// Fails the running block with message; unwinds the calling fiber, which is never resumed.
[[noreturn]] void fail_block(std::string message);

// Fault classification, outside the signal handler (memory.cpp / grid.cpp).
bool describe_device_address(const void* address, std::string* out);
std::string describe_fault(const Fiber& f, const Block& b);
Status device_alloc(void** out, size_t bytes);
Status device_free(void* ptr);
Status check_device_range(const void* p, size_t bytes, const char* what);
size_t live_device_bytes();
// Configuration checks CUDA makes at launch (block/grid limits, dynamic shared memory opt-in).
Status validate_launch(const KernelLaunch& launch);
// Runs op on the stream now, or records it while the stream captures (runtime.cpp).
Status enqueue_operation(cudaStream_t stream, std::function<Status()> op);
// After a launch: writes into the padding next to allocations (which no guard page covers).
bool check_redzones(std::string* out);

}  // namespace cuclip::emu::detail
