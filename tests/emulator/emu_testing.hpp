// Helpers for the emulator's tests: Status checks, device buffers, fresh random inputs.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/testing.hpp"
#include "kernels/gpu.hpp"

namespace cuclip_test {

namespace gpu = cuclip::gpu;

#define REQUIRE_OK(expr)                  \
  do {                                    \
    ::cuclip::Status s_ = (expr);         \
    INFO("status: " << s_.message);       \
    REQUIRE(s_.ok());                     \
  } while (0)

// The call must fail with CUCLIP_ERR_DEVICE (or the given code) and a message containing each part.
#define REQUIRE_ERROR(expr, ...)                                           \
  do {                                                                     \
    ::cuclip::Status s_ = (expr);                                          \
    INFO("status: " << s_.message);                                        \
    REQUIRE_FALSE(s_.ok());                                                \
    for (const char* part : {__VA_ARGS__}) CHECK_THAT(s_.message, Catch::Contains(part)); \
  } while (0)

// A kernel that fails while running: the launch returns the error and the next synchronize reports
// it again (as on the GPU); this consumes that second report so the test can go on.
#define REQUIRE_LAUNCH_ERROR(expr, ...)          \
  do {                                           \
    REQUIRE_ERROR(expr, __VA_ARGS__);            \
    (void)::cuclip::gpu::device_synchronize();   \
  } while (0)

// A device buffer that is freed at scope exit; upload/download go through the default stream.
template <class T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t count) : count_(count) { REQUIRE_OK(gpu::device_alloc(&ptr_, count)); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { (void)gpu::device_free(ptr_); }
  T* get() const { return ptr_; }
  size_t size() const { return count_; }
  void upload(const std::vector<T>& host) {
    REQUIRE(host.size() == count_);
    REQUIRE_OK(gpu::memcpy_h2d(ptr_, host.data(), count_ * sizeof(T), nullptr));
  }
  std::vector<T> download() const {
    std::vector<T> host(count_);
    REQUIRE_OK(gpu::memcpy_d2h(host.data(), ptr_, count_ * sizeof(T), nullptr));
    REQUIRE_OK(gpu::stream_synchronize(nullptr));
    return host;
  }
  // Fills with 0xff bytes (NaN for floats, -1 for ints) so unwritten outputs fail the checks.
  void poison() { REQUIRE_OK(gpu::memset(ptr_, 0xff, count_ * sizeof(T), nullptr)); }

 private:
  T* ptr_ = nullptr;
  size_t count_;
};

// Fresh random inputs on every run: the seed comes from std::random_device unless CUCLIP_TEST_SEED
// is set (to reproduce a failure; CUCLIP_SEED_INFO shows it with failed checks).
inline unsigned test_seed() {
  static const unsigned seed = [] {
    const char* v = std::getenv("CUCLIP_TEST_SEED");
    return v && *v ? static_cast<unsigned>(std::strtoul(v, nullptr, 10)) : std::random_device{}();
  }();
  return seed;
}

inline std::mt19937& rng() {
  static thread_local std::mt19937 gen(test_seed());
  return gen;
}

// Put at the top of a test case (or helper) that uses random inputs: failures then show the seed.
#define CUCLIP_SEED_INFO() INFO("random inputs: CUCLIP_TEST_SEED=" << ::cuclip_test::test_seed())

inline std::vector<float> random_floats(size_t n, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng());
  return v;
}

inline std::vector<int> random_ints(size_t n, int lo, int hi) {
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<int> v(n);
  for (int& x : v) x = d(rng());
  return v;
}

}  // namespace cuclip_test
