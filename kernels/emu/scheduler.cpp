// The block scheduler: runs the threads of one block as fibers on the calling host thread, and the
// block-wide barriers. (Warp-collective operations are in warp.cpp.)
//
// Each fiber runs until it has to wait (a barrier, a warp-collective operation) or exits; the next
// runnable fiber is then resumed directly, in round-robin order. The fiber whose arrival completes a
// barrier or a warp operation releases the others and carries on without a switch, so a barrier
// costs one switch per thread. Every waiting point checks CUDA's rules and turns a violation into a
// block failure that names the kernel's source line: threads at different barriers, a thread that
// exited while others wait, lanes of one collective with different masks or operations, a mask
// without the calling lane or naming an exited lane, a shuffle reading a lane outside its mask,
// and deadlock (nobody runnable while someone waits).
#include <algorithm>
#include <cstdio>
#include <cstring>

#include "kernels/emu/half.hpp"
#include "kernels/emu/internal.hpp"

namespace cuclip::emu::detail {

thread_local Block* tl_block = nullptr;
thread_local Fiber* tl_fiber = nullptr;

namespace {

const char* base_name(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}

// Thrown by fail_block and caught in fiber_main, so the failing fiber's frames are unwound (their
// temporaries freed) before it hands control back to run_block.
struct BlockAbort {};

bool same_loc(const std::source_location& a, const std::source_location& b) {
  return a.line() == b.line() && a.column() == b.column() &&
         (a.file_name() == b.file_name() || std::strcmp(a.file_name(), b.file_name()) == 0);
}

const char* barrier_name(BarrierKind k) {
  switch (k) {
    case BarrierKind::sync: return "__syncthreads()";
    case BarrierKind::count: return "__syncthreads_count()";
    case BarrierKind::all: return "__syncthreads_and()";
    case BarrierKind::any: return "__syncthreads_or()";
  }
  return "barrier";
}

int pop_runnable(Block& b) {
  if (b.q_size == 0) return -1;
  int i = b.queue[b.q_head];
  b.q_head = (b.q_head + 1) % b.queue.size();
  --b.q_size;
  return i;
}

void resume(FiberContext* save, Fiber& to) {
  tl_fiber = &to;
  threadIdx = to.tid;
  ++tl_block->worker->switches;
  switch_context(save, &to.ctx);
}

std::string describe_waiters(const Block& b) {
  std::string s;
  int listed = 0, waiting = 0;
  for (int i = 0; i < b.n; ++i) {
    const Fiber& f = b.worker->fibers[i];
    if (f.state == FiberState::exited || f.state == FiberState::runnable) continue;
    ++waiting;
    if (listed == 4) continue;
    ++listed;
    s += "; " + describe_thread(f) + " waits at ";
    s += f.state == FiberState::at_barrier ? std::string(barrier_name(b.barrier_kind)) + " at " + describe_loc(b.barrier_loc)
                                           : describe_op(f.op);
  }
  if (waiting > listed) s += "; and " + std::to_string(waiting - listed) + " more";
  return s;
}

[[noreturn]] void fail_deadlock() {
  fail_block("deadlock: no thread can run" + describe_waiters(*tl_block));
}

// Bookkeeping when a thread returns from the kernel; fails the block if others wait for it.
void finish_fiber(Fiber& self) {
  Block& b = *tl_block;
  self.state = FiberState::exited;
  self.cp_pending.clear();
  self.cp_group_ends.clear();
  --b.live;
  ++b.exited;
  b.warps[self.warp].exited |= 1u << self.lane;
  if (b.arrived > 0) {
    const Fiber& waiter = b.worker->fibers[b.first_arrived];
    fail_block("barrier divergence: " + describe_thread(self) + " exited while " + std::to_string(b.arrived) +
               " thread(s) wait at " + barrier_name(b.barrier_kind) + " at " + describe_loc(b.barrier_loc) +
               " (first: " + describe_thread(waiter) + ")");
  }
  int warp_base = self.warp * 32;
  for (unsigned waiting = b.warps[self.warp].waiting; waiting != 0; waiting &= waiting - 1) {
    const Fiber& other = b.worker->fibers[warp_base + __builtin_ctz(waiting)];
    if (other.op.mask >> self.lane & 1u) {
      fail_block(describe_thread(other) + " waits at " + describe_op(other.op) + ", whose mask includes lane " +
                 std::to_string(self.lane) + ", which exited");
    }
  }
  if (b.q_size == 0 && b.live > 0) fail_deadlock();
}

void fiber_main(void* arg) {
  fiber_started();
  Fiber& self = *static_cast<Fiber*>(arg);
  Block& b = *tl_block;
  std::string failure;
  bool aborted = false;
  // A fault on a guard page (or any SIGSEGV while a fiber runs) long-jumps back here; see grid.cpp.
  if (sigsetjmp(self.fault_jmp, 0) == 0) {
    try {
      b.launch->invoke(b.launch->params.get());
      finish_fiber(self);
    } catch (const BlockAbort&) {
      aborted = true;
    } catch (const std::exception& e) {
      failure = describe_thread(self) + " threw an exception out of the kernel: " + e.what();
    } catch (...) {
      failure = describe_thread(self) + " threw an exception out of the kernel";
    }
  } else {
    failure = describe_fault(self, b);
  }
  if (!failure.empty() && !b.failed) {
    b.failed = true;
    b.error = std::move(failure);
  }
  if (aborted || b.failed) {
    tl_fiber = nullptr;
    switch_context_final(&self.ctx, &b.scheduler);
  } else if (b.q_size > 0) {
    Fiber& to = b.worker->fibers[pop_runnable(b)];
    tl_fiber = &to;
    threadIdx = to.tid;
    ++b.worker->switches;
    switch_context_final(&self.ctx, &to.ctx);
  } else {
    tl_fiber = nullptr;
    switch_context_final(&self.ctx, &b.scheduler);
  }
  __builtin_unreachable();
}

}  // namespace

void push_runnable(Block& b, int index) {
  b.queue[(b.q_head + b.q_size) % b.queue.size()] = index;
  ++b.q_size;
}

// Ends the block with an error; this fiber is never resumed.
[[noreturn]] void fail_block(std::string message) {
  Block& b = *tl_block;
  if (!b.failed) {
    b.failed = true;
    b.error = std::move(message);
  }
  throw BlockAbort{};
}

// Parks the running fiber (its state already says what it waits for) and runs the next one.
void park(Fiber& self) {
  Block& b = *tl_block;
  int next = pop_runnable(b);
  if (next < 0) fail_deadlock();
  resume(&self.ctx, b.worker->fibers[next]);
}

std::string describe_loc(const std::source_location& loc) {
  return std::string(base_name(loc.file_name())) + ":" + std::to_string(loc.line());
}

std::string describe_thread(const Fiber& f) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "thread (%u,%u,%u) [warp %d lane %d]", f.tid.x, f.tid.y, f.tid.z, f.warp, f.lane);
  return buf;
}

bool run_block(const KernelLaunch& launch, Worker& worker, uint3 block_idx, std::string* error) {
  Block b;
  b.launch = &launch;
  b.worker = &worker;
  b.idx = block_idx;
  dim3 bd = launch.block;
  b.n = static_cast<int>(bd.x * bd.y * bd.z);
  b.live = b.n;
  b.queue.assign(static_cast<size_t>(b.n), 0);
  b.warps.assign(static_cast<size_t>((b.n + 31) / 32), WarpLanes{});
  for (int w = 0; w < (b.n + 31) / 32; ++w) {
    int lanes = std::min(32, b.n - 32 * w);
    b.warps[static_cast<size_t>(w)].exists = lanes == 32 ? 0xffffffffu : (1u << lanes) - 1;
  }
  b.dyn_smem_bytes = launch.dyn_smem;
  b.dyn_smem = worker.smem_end - ((launch.dyn_smem + 15) / 16 * 16);
  std::memset(b.dyn_smem, 0xff, launch.dyn_smem);  // NaN for f32/f16/bf16: unwritten reads show
  for (int i = 0; i < b.n; ++i) {
    Fiber& f = worker.fibers[i];
    f.index = i;
    f.lane = i % 32;
    f.warp = i / 32;
    f.tid = uint3{i % bd.x, (i / bd.x) % bd.y, i / (bd.x * bd.y)};
    f.state = FiberState::runnable;
    f.cp_pending.clear();
    f.cp_group_ends.clear();
    make_context(&f.ctx, worker.stacks[i], fiber_main, &f);
    push_runnable(b, i);
  }
  blockIdx = block_idx;
  init_thread_context(&b.scheduler);
  tl_block = &b;
  resume(&b.scheduler, worker.fibers[pop_runnable(b)]);
  tl_block = nullptr;
  tl_fiber = nullptr;
  if (b.failed) *error = std::move(b.error);
  return !b.failed;
}

}  // namespace cuclip::emu::detail

// --- the device functions of device.hpp ----------------------------------------------------------
namespace cuclip::emu {
using namespace detail;

int barrier(BarrierKind kind, int predicate, const std::source_location& loc) {
  Fiber* self = tl_fiber;
  if (!self) return predicate;
  Block& b = *tl_block;
  if (b.exited > 0) {
    const Fiber* gone = nullptr;
    for (int i = 0; i < b.n && !gone; ++i)
      if (b.worker->fibers[i].state == FiberState::exited) gone = &b.worker->fibers[i];
    fail_block("barrier divergence: " + describe_thread(*self) + " reached " + barrier_name(kind) + " at " +
               describe_loc(loc) + " after " + describe_thread(*gone) + " exited");
  }
  if (b.arrived == 0) {
    b.barrier_loc = loc;
    b.barrier_kind = kind;
    b.first_arrived = self->index;
    b.barrier_acc = kind == BarrierKind::all ? 1 : 0;
  } else if (!same_loc(loc, b.barrier_loc) || kind != b.barrier_kind) {
    fail_block("barrier divergence: " + describe_thread(*self) + " waits at " + barrier_name(kind) + " at " +
               describe_loc(loc) + " while " + describe_thread(b.worker->fibers[b.first_arrived]) + " waits at " +
               barrier_name(b.barrier_kind) + " at " + describe_loc(b.barrier_loc));
  }
  switch (kind) {
    case BarrierKind::sync: break;
    case BarrierKind::count: b.barrier_acc += predicate != 0; break;
    case BarrierKind::all: b.barrier_acc &= predicate != 0; break;
    case BarrierKind::any: b.barrier_acc |= predicate != 0; break;
  }
  if (++b.arrived < b.live) {
    self->state = FiberState::at_barrier;
    park(*self);
    return self->barrier_result;
  }
  int result = b.barrier_acc;
  b.arrived = 0;
  for (int i = 0; i < b.n; ++i) {
    Fiber& f = b.worker->fibers[i];
    if (f.state != FiberState::at_barrier) continue;
    f.state = FiberState::runnable;
    f.barrier_result = result;
    push_runnable(b, i);
  }
  return result;
}

void* dynamic_smem_base() { return tl_block ? tl_block->dyn_smem : nullptr; }

void trap(const char* what, const std::source_location& loc) {
  if (!tl_fiber) __builtin_trap();
  fail_block(describe_thread(*tl_fiber) + " called " + what + " at " + describe_loc(loc));
}

}  // namespace cuclip::emu
