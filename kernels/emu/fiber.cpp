// Guarded fiber stacks and the context switch (see fiber.hpp).
#include "kernels/emu/fiber.hpp"

#if defined(CUCLIP_EMU_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

namespace cuclip::emu::detail {

size_t page_size() {
  static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

size_t stack_guard_bytes() {
  static const size_t bytes = (size_t{64} * 1024 + page_size() - 1) / page_size() * page_size();
  return bytes;
}

bool FiberStack::in_guard(const void* p) const {
  auto a = reinterpret_cast<const char*>(p);
  return region != nullptr && a >= region && a < region + stack_guard_bytes();
}

bool allocate_stack(size_t usable_bytes, FiberStack* out) {
  size_t page = page_size(), guard = stack_guard_bytes();
  size_t usable = (usable_bytes + page - 1) / page * page;
  size_t total = usable + guard;
  void* p = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return false;
  if (mprotect(p, guard, PROT_NONE) != 0) {
    munmap(p, total);
    return false;
  }
  out->region = static_cast<char*>(p);
  out->region_bytes = total;
  return true;
}

void free_stack(FiberStack* stack) {
  if (stack->region) munmap(stack->region, stack->region_bytes);
  stack->region = nullptr;
  stack->region_bytes = 0;
}

// A reused stack still carries the sanitizer's poison from its previous frames.
static void prepare_stack(FiberContext* ctx, const FiberStack& stack) {
#if defined(CUCLIP_EMU_ASAN)
  ctx->stack_bottom = stack.region + stack_guard_bytes();
  ctx->stack_size = stack.region_bytes - stack_guard_bytes();
  ctx->fake_stack = nullptr;
  __asan_unpoison_memory_region(stack.region + stack_guard_bytes(), stack.region_bytes - stack_guard_bytes());
#else
  (void)ctx;
  (void)stack;
#endif
}

#if defined(CUCLIP_EMU_UCONTEXT)

namespace {
// makecontext passes int arguments only, so the pointers travel as two halves.
void ucontext_trampoline(unsigned entry_lo, unsigned entry_hi, unsigned arg_lo, unsigned arg_hi) {
  auto entry = reinterpret_cast<void (*)(void*)>((static_cast<uintptr_t>(entry_hi) << 32) | entry_lo);
  auto arg = reinterpret_cast<void*>((static_cast<uintptr_t>(arg_hi) << 32) | arg_lo);
  entry(arg);
}
}  // namespace

void make_context(FiberContext* ctx, const FiberStack& stack, void (*entry)(void*), void* arg) {
  prepare_stack(ctx, stack);
  getcontext(&ctx->uc);
  ctx->uc.uc_stack.ss_sp = stack.region + stack_guard_bytes();
  ctx->uc.uc_stack.ss_size = stack.region_bytes - stack_guard_bytes();
  ctx->uc.uc_link = nullptr;
  auto e = reinterpret_cast<uintptr_t>(entry);
  auto a = reinterpret_cast<uintptr_t>(arg);
  makecontext(&ctx->uc, reinterpret_cast<void (*)()>(ucontext_trampoline), 4, static_cast<unsigned>(e),
              static_cast<unsigned>(e >> 32), static_cast<unsigned>(a), static_cast<unsigned>(a >> 32));
}

static void raw_switch(FiberContext* from, FiberContext* to) { swapcontext(&from->uc, &to->uc); }

#else

// cuclip_emu_swap(void** save_sp, void* load_sp): pushes the callee-saved registers on the current
// stack, stores the stack pointer, loads the other one and pops its registers. The MXCSR and x87
// control words are not switched: all fibers of a host thread share one floating-point environment
// (kernels do not change rounding modes), and ldmxcsr/fldcw would double the cost of a switch. cuclip_emu_fiber_start is where a fresh stack "returns" to: r12 holds the argument and r13
// the entry function (laid out by make_context).
asm(R"(
  .text
  .p2align 4
  .globl cuclip_emu_swap
  .hidden cuclip_emu_swap
  .type cuclip_emu_swap,@function
cuclip_emu_swap:
  .cfi_startproc
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .cfi_endproc
  .size cuclip_emu_swap,.-cuclip_emu_swap

  .p2align 4
  .globl cuclip_emu_fiber_start
  .hidden cuclip_emu_fiber_start
  .type cuclip_emu_fiber_start,@function
cuclip_emu_fiber_start:
  movq %r12, %rdi
  callq *%r13
  ud2
  .size cuclip_emu_fiber_start,.-cuclip_emu_fiber_start
)");

extern "C" void cuclip_emu_swap(void** save_sp, void* load_sp);
extern "C" void cuclip_emu_fiber_start();

void make_context(FiberContext* ctx, const FiberStack& stack, void (*entry)(void*), void* arg) {
  prepare_stack(ctx, stack);
  // Frame popped by the first cuclip_emu_swap into this stack, lowest address first:
  //   r15 r14 r13 r12 rbx rbp [return address = fiber_start] [padding]
  // After the return, rsp = top - 16: the call in fiber_start happens with a 16-byte aligned stack.
  auto top = reinterpret_cast<uintptr_t>(stack.top()) & ~static_cast<uintptr_t>(15);
  auto* sp = reinterpret_cast<uint64_t*>(top - 72);
  std::memset(sp, 0, 72);
  sp[2] = reinterpret_cast<uint64_t>(entry);  // r13
  sp[3] = reinterpret_cast<uint64_t>(arg);    // r12
  sp[6] = reinterpret_cast<uint64_t>(&cuclip_emu_fiber_start);
  ctx->sp = sp;
}

static void raw_switch(FiberContext* from, FiberContext* to) { cuclip_emu_swap(&from->sp, to->sp); }

#endif

void switch_context(FiberContext* from, FiberContext* to) {
#if defined(CUCLIP_EMU_ASAN)
  __sanitizer_start_switch_fiber(&from->fake_stack, to->stack_bottom, to->stack_size);
  raw_switch(from, to);
  __sanitizer_finish_switch_fiber(from->fake_stack, nullptr, nullptr);
#else
  raw_switch(from, to);
#endif
}

void switch_context_final(FiberContext* from, FiberContext* to) {
#if defined(CUCLIP_EMU_ASAN)
  __sanitizer_start_switch_fiber(nullptr, to->stack_bottom, to->stack_size);
#endif
  raw_switch(from, to);
}

void fiber_started() {
#if defined(CUCLIP_EMU_ASAN)
  __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
}

void init_thread_context(FiberContext* ctx) {
#if defined(CUCLIP_EMU_ASAN)
  pthread_attr_t attr;
  void* bottom = nullptr;
  size_t size = 0;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    pthread_attr_getstack(&attr, &bottom, &size);
    pthread_attr_destroy(&attr);
  }
  ctx->stack_bottom = bottom;
  ctx->stack_size = size;
  ctx->fake_stack = nullptr;
#else
  (void)ctx;
#endif
}

}  // namespace cuclip::emu::detail
