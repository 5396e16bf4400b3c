// Measuring what one call costs: wall time and the growth of the process's peak resident memory.
// Sanitizer builds are slower and keep freed memory in quarantine, so time limits are scaled and
// memory limits are not asserted there (kSanitized).
#pragma once
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>

namespace cuclip_security {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif
// ASan/TSan slow this code down 2-10x; the limits below are for optimized builds.
constexpr double kTimeScale = kSanitized ? 8.0 : 1.0;

inline int64_t peak_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;  // kilobytes on Linux
}

struct Cost {
  double seconds = 0;
  int64_t peak_growth_mb = 0;  // how far the call pushed the process's peak RSS up
  int result = 0;              // what the measured function returned (e.g. a status code)
  bool crashed = false;        // measure_in_child: the child died instead of reporting
};

// Runs f() (returning an int) and reports its cost. In a forked child, so that the peak-memory
// growth is measured from the current footprint, not from whatever peak earlier tests reached;
// f must not use OpenMP (a forked child cannot reuse the parent's thread pool).
template <class F>
Cost measure_in_child(F&& f) {
  int fds[2];
  Cost c;
  if (pipe(fds) != 0) {
    c.crashed = true;
    return c;
  }
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    const int64_t before = peak_rss_kb();
    const auto t0 = std::chrono::steady_clock::now();
    Cost r;
    r.result = f();
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.peak_growth_mb = (peak_rss_kb() - before) / 1024;
    const ssize_t n = write(fds[1], &r, sizeof r);
    _exit(n == (ssize_t)sizeof r ? 0 : 1);
  }
  close(fds[1]);
  const ssize_t n = pid > 0 ? read(fds[0], &c, sizeof c) : -1;
  close(fds[0]);
  int status = 0;
  if (pid > 0) waitpid(pid, &status, 0);
  if (n != (ssize_t)sizeof c || !WIFEXITED(status) || WEXITSTATUS(status) != 0) c.crashed = true;
  return c;
}

}  // namespace cuclip_security
