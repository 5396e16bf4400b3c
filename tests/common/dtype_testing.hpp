// Helpers shared by the kernel tests (tests/gpu_kernels, tests/tc_kernels): values of a device
// dtype (f32, f16, bf16) held as floats on the host and converted with engine/base/half.hpp (round
// to nearest even), and device tensors of such values. Built against either cuclip::gpu (the
// emulator or CUDA).
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "base/half.hpp"
#include "emulator/emu_testing.hpp"

namespace cuclip_test {

using DType = cuclip::gpu::DType;
constexpr DType kAllDtypes[] = {DType::f32, DType::f16, DType::bf16};

inline const char* dtype_name(DType d) { return d == DType::f32 ? "f32" : d == DType::f16 ? "f16" : "bf16"; }
inline size_t dtype_bytes(DType d) { return d == DType::f32 ? 4 : 2; }

// v rounded to d, as a float.
inline float round_to(DType d, float v) {
  if (d == DType::f16) return cuclip::f16_to_f32(cuclip::f32_to_f16(v));
  if (d == DType::bf16) return cuclip::bf16_to_f32(cuclip::f32_to_bf16(v));
  return v;
}
inline std::vector<float> round_to(DType d, std::vector<float> v) {
  for (float& x : v) x = round_to(d, x);
  return v;
}
// In place, so that a reference sees exactly what the kernel sees.
inline void round_all(DType d, std::vector<float>& v) {
  for (float& x : v) x = round_to(d, x);
}

// A device tensor of n elements of dtype d.
class DeviceTensor {
 public:
  DeviceTensor(DType d, size_t n) : dt_(d), n_(n), bytes_(n * dtype_bytes(d)) {
    REQUIRE_OK(gpu::device_alloc(&ptr_, std::max<size_t>(bytes_, 1)));
  }
  DeviceTensor(DType d, const std::vector<float>& host) : DeviceTensor(d, host.size()) { upload(host); }
  DeviceTensor(const DeviceTensor&) = delete;
  DeviceTensor& operator=(const DeviceTensor&) = delete;
  ~DeviceTensor() { (void)gpu::device_free(ptr_); }
  void* get() const { return ptr_; }
  size_t size() const { return n_; }

  void upload(const std::vector<float>& host) {
    REQUIRE(host.size() == n_);
    std::vector<uint8_t> raw(bytes_);
    for (size_t i = 0; i < n_; ++i) {
      if (dt_ == DType::f32) {
        std::memcpy(raw.data() + 4 * i, &host[i], 4);
      } else {
        const uint16_t h = dt_ == DType::f16 ? cuclip::f32_to_f16(host[i]) : cuclip::f32_to_bf16(host[i]);
        std::memcpy(raw.data() + 2 * i, &h, 2);
      }
    }
    REQUIRE_OK(gpu::memcpy_h2d(ptr_, raw.data(), bytes_, nullptr));
    REQUIRE_OK(gpu::stream_synchronize(nullptr));
  }
  std::vector<float> download() const {
    std::vector<uint8_t> raw(bytes_);
    REQUIRE_OK(gpu::memcpy_d2h(raw.data(), ptr_, bytes_, nullptr));
    REQUIRE_OK(gpu::stream_synchronize(nullptr));
    std::vector<float> out(n_);
    for (size_t i = 0; i < n_; ++i) {
      if (dt_ == DType::f32) {
        std::memcpy(&out[i], raw.data() + 4 * i, 4);
      } else {
        uint16_t h;
        std::memcpy(&h, raw.data() + 2 * i, 2);
        out[i] = dt_ == DType::f16 ? cuclip::f16_to_f32(h) : cuclip::bf16_to_f32(h);
      }
    }
    return out;
  }
  // 0xff bytes: NaN in every float format, so an element the kernel fails to write fails the check.
  void poison() { REQUIRE_OK(gpu::memset(ptr_, 0xff, bytes_, nullptr)); }

 private:
  DType dt_;
  size_t n_, bytes_;
  void* ptr_ = nullptr;
};

}  // namespace cuclip_test
