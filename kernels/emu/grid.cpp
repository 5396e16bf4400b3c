// Running a grid: launch validation, the host thread pool that spreads blocks over cores (or runs
// them in order on one thread in deterministic mode), and the SIGSEGV handler that turns a fault
// inside a kernel into an error of that launch.
//
// Fault recovery: each fiber calls sigsetjmp(0) before entering the kernel. The handler (installed
// once, on an alternate signal stack so that a fiber's stack overflow can be handled too) checks
// that the faulting host thread is running a fiber, records the address, and siglongjmps back to
// that fiber's entry, which fails the block. Faults anywhere else go to the previous handler.
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "kernels/emu/internal.hpp"

namespace cuclip::emu {
namespace detail {
namespace {

constexpr size_t kMaxDynamicSmem = 232448;     // sm_90's opt-in limit per block (227 KiB)
constexpr size_t kDefaultDynamicSmem = 49152;  // without cudaFuncSetAttribute
constexpr size_t kAltStackBytes = 64 * 1024;

size_t env_size(const char* name, size_t fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  unsigned long long x = std::strtoull(v, &end, 10);
  return (end && *end == '\0') ? static_cast<size_t>(x) : fallback;
}

struct Config {
  std::atomic<bool> deterministic{env_size("CUCLIP_EMU_DETERMINISTIC", 0) != 0};
  std::atomic<int> threads{static_cast<int>(env_size("CUCLIP_EMU_THREADS", 0))};
  std::atomic<size_t> stack_bytes{env_size("CUCLIP_EMU_STACK_KB", 64) * 1024};
};
Config& config() {
  static Config c;
  return c;
}

std::atomic<uint64_t> g_launches{0}, g_blocks{0}, g_switches{0};

std::mutex g_attr_mu;
std::map<const void*, int> g_max_dyn_smem;  // kernel -> cudaFuncAttributeMaxDynamicSharedMemorySize

thread_local cudaError_t tl_last_error = cudaSuccess;

// --- signals ---
struct sigaction g_previous_segv;
struct sigaction g_previous_bus;

void chain(int sig, siginfo_t* info, void* uctx, const struct sigaction& prev) {
  if (prev.sa_flags & SA_SIGINFO) {
    prev.sa_sigaction(sig, info, uctx);
  } else if (prev.sa_handler != SIG_IGN && prev.sa_handler != SIG_DFL) {
    prev.sa_handler(sig);
  } else {
    // Restore the default action; returning re-executes the access and the process gets the
    // ordinary crash it would have had without the emulator.
    signal(sig, SIG_DFL);
  }
}

void on_fault(int sig, siginfo_t* info, void* uctx) {
  Fiber* f = tl_fiber;
  if (f == nullptr) {
    chain(sig, info, uctx, sig == SIGSEGV ? g_previous_segv : g_previous_bus);
    return;
  }
  f->fault_address = info->si_addr;
  f->fault_general_protection = info->si_code == SI_KERNEL;
  f->fault_is_write = -1;
#if defined(__x86_64__)
  auto* uc = static_cast<ucontext_t*>(uctx);
  f->fault_is_write = (uc->uc_mcontext.gregs[REG_ERR] & 2) ? 1 : 0;
#else
  (void)uctx;
#endif
  siglongjmp(f->fault_jmp, 1);
}

// Checked at every launch, not once: test frameworks and other libraries install their own SIGSEGV
// handlers over ours; the one found is kept for faults that are not a kernel's.
void install_fault_handler() {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  for (int sig : {SIGSEGV, SIGBUS}) {
    struct sigaction current;
    sigaction(sig, nullptr, &current);
    if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == on_fault) continue;
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    // SA_NODEFER: the handler leaves by siglongjmp without restoring the mask, so the signal must
    // not be blocked while it runs. SA_ONSTACK: a fiber's stack overflow leaves no stack to run on.
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, sig == SIGSEGV ? &g_previous_segv : &g_previous_bus);
  }
}

// --- per host thread resources ---
bool prepare_worker(Worker& w, int threads_per_block, std::string* error) {
  size_t want = config().stack_bytes.load();
  if (w.stack_bytes != want) {
    for (FiberStack& s : w.stacks) free_stack(&s);
    w.stacks.clear();
    w.stack_bytes = want;
  }
  while (static_cast<int>(w.stacks.size()) < threads_per_block) {
    FiberStack s;
    if (!allocate_stack(want, &s)) {
      *error = "cannot map a " + std::to_string(want) + "-byte fiber stack";
      return false;
    }
    w.stacks.push_back(s);
  }
  if (static_cast<int>(w.fibers.size()) < threads_per_block) w.fibers.resize(static_cast<size_t>(threads_per_block));
  if (w.smem_region == nullptr) {
    size_t page = page_size();
    size_t data = (kMaxDynamicSmem + page - 1) / page * page;
    size_t total = data + 2 * page;
    void* p = mmap(nullptr, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED || mprotect(static_cast<char*>(p) + page, data, PROT_READ | PROT_WRITE) != 0) {
      *error = "cannot map the dynamic shared memory buffer";
      return false;
    }
    w.smem_region = static_cast<char*>(p);
    w.smem_region_bytes = total;
    w.smem_end = w.smem_region + page + data;
  }
  return true;
}

// Each pool thread handles its faults on its own alternate signal stack.
struct ThreadSetup {
  void* altstack = nullptr;
  ThreadSetup() {
    altstack = mmap(nullptr, kAltStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (altstack == MAP_FAILED) {
      altstack = nullptr;
      return;
    }
    stack_t ss{};
    ss.ss_sp = altstack;
    ss.ss_size = kAltStackBytes;
    sigaltstack(&ss, nullptr);
  }
  ~ThreadSetup() {
    if (!altstack) return;
    stack_t ss{};
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, nullptr);
    munmap(altstack, kAltStackBytes);
  }
};

thread_local Worker* tl_worker = nullptr;

// --- the pool ---
struct Job {
  const KernelLaunch* launch = nullptr;
  uint64_t total = 0;
  int participants = 0;
  std::atomic<uint64_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mu;
  uint64_t error_block = UINT64_MAX;
  std::string error;
};

void run_job(Job& job, int worker_index) {
  if (worker_index >= job.participants) return;
  static thread_local Worker worker;
  tl_worker = &worker;
  const KernelLaunch& l = *job.launch;
  int threads = static_cast<int>(l.block.x * l.block.y * l.block.z);
  std::string error;
  auto report = [&](uint64_t block, std::string message) {
    std::lock_guard<std::mutex> lock(job.error_mu);
    if (block < job.error_block) {
      job.error_block = block;
      job.error = std::move(message);
    }
    job.failed = true;
  };
  if (!prepare_worker(worker, threads, &error)) {
    report(0, error);
    return;
  }
  blockDim = l.block;
  gridDim = l.grid;
  uint64_t before = worker.switches, blocks = 0;
  for (;;) {
    uint64_t i = job.next.fetch_add(1);
    if (i >= job.total || job.failed.load(std::memory_order_relaxed)) break;
    uint3 idx{static_cast<unsigned>(i % l.grid.x), static_cast<unsigned>(i / l.grid.x % l.grid.y),
              static_cast<unsigned>(i / (static_cast<uint64_t>(l.grid.x) * l.grid.y))};
    ++blocks;
    if (!run_block(l, worker, idx, &error)) {
      char where[64];
      std::snprintf(where, sizeof where, "block (%u,%u,%u) ", idx.x, idx.y, idx.z);
      report(i, where + error);
      break;
    }
  }
  g_switches += worker.switches - before;
  g_blocks += blocks;
}

class Pool {
 public:
  ~Pool() { stop(); }

  void run(Job& job, int want_threads) {
    if (static_cast<int>(threads_.size()) != want_threads) {
      stop();
      start(want_threads);
    }
    std::unique_lock<std::mutex> lock(mu_);
    job_ = &job;
    pending_ = static_cast<int>(threads_.size());
    ++generation_;
    cv_.notify_all();
    done_cv_.wait(lock, [&] { return pending_ == 0; });
    job_ = nullptr;
  }

 private:
  void start(int n) {
    stopping_ = false;
    for (int i = 0; i < n; ++i) threads_.emplace_back([this, i] { loop(i); });
  }
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      cv_.notify_all();
    }
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }
  void loop(int index) {
    ThreadSetup setup;
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      Job* job = job_;
      lock.unlock();
      run_job(*job, index);
      lock.lock();
      if (--pending_ == 0) done_cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::vector<std::thread> threads_;
  Job* job_ = nullptr;
  uint64_t generation_ = 0;
  int pending_ = 0;
  bool stopping_ = false;
};

std::mutex g_launch_mu;  // one grid at a time: the pool and the workers' buffers are shared

Status device_error(const KernelLaunch& l, cudaError_t code, const std::string& what) {
  tl_last_error = code;
  return Err(CUCLIP_ERR_DEVICE, std::string("kernel ") + l.name + ": " + what + " (" + error_name(code) + ")");
}

std::string dims(dim3 d) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "(%u,%u,%u)", d.x, d.y, d.z);
  return buf;
}

}  // namespace

// Bad block or grid dimensions: CUDA 13 (driver 580, seen on an H200) reports them as
// cudaErrorInvalidValue; older toolkits said cudaErrorInvalidConfiguration.
Status validate_launch(const KernelLaunch& l) {
  uint64_t threads = static_cast<uint64_t>(l.block.x) * l.block.y * l.block.z;
  if (l.block.x == 0 || l.block.y == 0 || l.block.z == 0 || l.block.x > 1024 || l.block.y > 1024 || l.block.z > 64 ||
      threads > 1024) {
    return device_error(l, cudaErrorInvalidValue,
                        "invalid block " + dims(l.block) + ": at most 1024 threads (1024 x 1024 x 64)");
  }
  if (l.grid.x == 0 || l.grid.y == 0 || l.grid.z == 0 || l.grid.x > 2147483647u || l.grid.y > 65535 || l.grid.z > 65535) {
    return device_error(l, cudaErrorInvalidValue, "invalid grid " + dims(l.grid));
  }
  size_t limit = kDefaultDynamicSmem;
  {
    std::lock_guard<std::mutex> lock(g_attr_mu);
    auto it = g_max_dyn_smem.find(l.kernel);
    if (it != g_max_dyn_smem.end()) limit = static_cast<size_t>(it->second);
  }
  if (l.dyn_smem > limit) {
    return device_error(l, cudaErrorInvalidValue,
                        std::to_string(l.dyn_smem) + " bytes of dynamic shared memory exceed the kernel's limit of " +
                            std::to_string(limit) +
                            " (above 48 KiB needs cudaFuncSetAttribute(MaxDynamicSharedMemorySize))");
  }
  return Status::Ok();
}

Worker::~Worker() {
  for (FiberStack& s : stacks) free_stack(&s);
  if (smem_region) munmap(smem_region, smem_region_bytes);
}

std::string describe_fault(const Fiber& f, const Block& b) {
  const char* access = f.fault_is_write == 1 ? "write" : (f.fault_is_write == 0 ? "read" : "access");
  char addr[32];
  std::snprintf(addr, sizeof addr, "%p", f.fault_address);
  std::string what;
  auto* a = static_cast<const char*>(f.fault_address);
  if (f.fault_general_protection) {
    return describe_thread(f) + ": general protection fault: most likely a misaligned vector access (the emulator "
           "aligns an allocation to the largest power of two up to 16 that divides its size) "
           "(cudaErrorMisalignedAddress)";
  }
  if (describe_device_address(f.fault_address, &what)) {
  } else if (tl_worker && a >= tl_worker->smem_region && a < tl_worker->smem_region + tl_worker->smem_region_bytes) {
    if (a >= tl_worker->smem_end) {
      what = "byte " + std::to_string(a - b.dyn_smem) + " of dynamic shared memory, past its end (" +
             std::to_string(b.dyn_smem_bytes) + " bytes)";
    } else {
      what = "dynamic shared memory, " + std::to_string(b.dyn_smem - a) + " bytes before its start";
    }
  } else {
    what = "not device memory";
    if (tl_worker) {
      for (size_t i = 0; i < tl_worker->stacks.size(); ++i) {
        if (tl_worker->stacks[i].in_guard(a)) {
          what = "the guard page of thread " + std::to_string(i) +
                 "'s stack: stack overflow (raise CUCLIP_EMU_STACK_KB, now " +
                 std::to_string(config().stack_bytes.load() / 1024) + ")";
        }
      }
    }
  }
  return describe_thread(f) + ": invalid " + access + " at " + addr + ": " + what + " (cudaErrorIllegalAddress)";
}

}  // namespace detail

using namespace detail;

const char* error_name(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorMisalignedAddress: return "cudaErrorMisalignedAddress";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorUnknown: return "cudaErrorUnknown";
  }
  return "cudaError(unknown code)";
}

cudaError_t set_func_attribute(const void* kernel, cudaFuncAttribute attr, int value) {
  if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize) {
    if (value < 0 || static_cast<size_t>(value) > kMaxDynamicSmem) return cudaErrorInvalidValue;
    std::lock_guard<std::mutex> lock(g_attr_mu);
    g_max_dyn_smem[kernel] = value;
    return cudaSuccess;
  }
  if (attr == cudaFuncAttributePreferredSharedMemoryCarveout) return cudaSuccess;
  return cudaErrorInvalidValue;
}

cudaError_t last_launch_error(bool clear) {
  cudaError_t e = tl_last_error;
  if (clear) tl_last_error = cudaSuccess;
  return e;
}

Status run_kernel(const KernelLaunch& l) {
  CUCLIP_TRY(validate_launch(l));
  install_fault_handler();
  Job job;
  job.launch = &l;
  job.total = static_cast<uint64_t>(l.grid.x) * l.grid.y * l.grid.z;
  int threads = host_threads();
  job.participants = deterministic() ? 1 : static_cast<int>(std::min<uint64_t>(static_cast<uint64_t>(threads), job.total));
  {
    std::lock_guard<std::mutex> lock(g_launch_mu);
    static Pool pool;
    pool.run(job, threads);
  }
  ++g_launches;
  if (job.failed) {
    std::string where = deterministic() ? "" : " (first failing block found; blocks ran in parallel)";
    cudaError_t code = job.error.find("cudaErrorIllegalAddress") != std::string::npos ? cudaErrorIllegalAddress
                                                                                      : cudaErrorLaunchFailure;
    tl_last_error = code;
    return Err(CUCLIP_ERR_DEVICE, std::string("kernel ") + l.name + " grid " + dims(l.grid) + " block " +
                                      dims(l.block) + ": " + job.error + where);
  }
  std::string redzone;
  if (!check_redzones(&redzone)) {
    tl_last_error = cudaErrorIllegalAddress;
    return Err(CUCLIP_ERR_DEVICE, std::string("kernel ") + l.name + ": " + redzone + " (cudaErrorIllegalAddress)");
  }
  return Status::Ok();
}

void set_deterministic(bool on) { config().deterministic = on; }
bool deterministic() { return config().deterministic.load(); }
void set_host_threads(int n) { config().threads = n < 0 ? 0 : n; }
int host_threads() {
  int n = config().threads.load();
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  return n <= 0 ? 1 : n;
}
void set_stack_size(size_t bytes) { config().stack_bytes = bytes < 16384 ? 16384 : bytes; }
size_t stack_size() { return config().stack_bytes.load(); }

Counters counters() {
  Counters c;
  c.launches = g_launches.load();
  c.blocks = g_blocks.load();
  c.fiber_switches = g_switches.load();
  return c;
}

}  // namespace cuclip::emu
