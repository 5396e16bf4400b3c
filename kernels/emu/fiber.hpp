// Fibers for the emulator: guarded stacks and a context switch. On x86-64 the switch is a few
// instructions of hand-written assembly (it saves only the callee-saved registers and the FP control
// words, no signal mask, so it costs nanoseconds); elsewhere, or with CUCLIP_EMU_UCONTEXT defined,
// it falls back to ucontext's swapcontext, which makes a system call per switch.
#pragma once
#include <cstddef>

#if !defined(__x86_64__) && !defined(CUCLIP_EMU_UCONTEXT)
#define CUCLIP_EMU_UCONTEXT 1
#endif
#if defined(CUCLIP_EMU_UCONTEXT)
#include <ucontext.h>
#endif

// AddressSanitizer must be told about stack switches, or it reports the fibers' frames as overflows.
#if defined(__SANITIZE_ADDRESS__)
#define CUCLIP_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CUCLIP_EMU_ASAN 1
#endif
#endif

namespace cuclip::emu::detail {

struct FiberContext {
#if defined(CUCLIP_EMU_UCONTEXT)
  ucontext_t uc;
#else
  void* sp = nullptr;
#endif
#if defined(CUCLIP_EMU_ASAN)
  const void* stack_bottom = nullptr;
  size_t stack_size = 0;
  void* fake_stack = nullptr;
#endif
};

// An mmap'ed stack with an inaccessible guard region below it (stacks grow down). The guard is
// 64 KiB, not one page: a frame larger than the guard (a kernel's local array, say) would step
// over it into whatever is mapped below, another fiber's stack included, and an overflow would
// then corrupt memory or be reported as a stray access instead of a stack overflow.
struct FiberStack {
  char* region = nullptr;  // guard first
  size_t region_bytes = 0;
  char* top() const { return region + region_bytes; }
  bool in_guard(const void* p) const;
};
bool allocate_stack(size_t usable_bytes, FiberStack* out);
void free_stack(FiberStack* stack);

// Prepares ctx so that the first switch_context to it runs entry(arg) on the stack. entry must
// never return: a fiber ends by switching away for good.
void make_context(FiberContext* ctx, const FiberStack& stack, void (*entry)(void*), void* arg);
// Saves the running context into from and resumes to.
void switch_context(FiberContext* from, FiberContext* to);
// The same for a context that will never be resumed (a finished or abandoned fiber).
void switch_context_final(FiberContext* from, FiberContext* to);
// First call on a new fiber's stack (completes the sanitizer's view of the switch).
void fiber_started();
// Describes the calling host thread's own stack as the context to return to.
void init_thread_context(FiberContext* ctx);

size_t page_size();
size_t stack_guard_bytes();  // the guard below every fiber stack: 64 KiB, whole pages

}  // namespace cuclip::emu::detail
