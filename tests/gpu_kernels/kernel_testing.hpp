// Helpers for the CUDA backend's kernel tests: device tensors in any compute dtype (converted on the
// host with engine/base/half.hpp, round to nearest even), and the per-dtype tolerances.
#pragma once
#include <cstring>
#include <vector>

#include "base/half.hpp"
#include "emulator/emu_testing.hpp"

namespace cuclip_test {

using DT = cuclip::gpu::DType;
constexpr DT kAllDtypes[] = {DT::f32, DT::f16, DT::bf16};

inline const char* dt_name(DT d) { return d == DT::f32 ? "f32" : d == DT::f16 ? "f16" : "bf16"; }
inline size_t dt_bytes(DT d) { return d == DT::f32 ? 4 : 2; }

inline float round_to(DT d, float v) {
  if (d == DT::f16) return cuclip::f16_to_f32(cuclip::f32_to_f16(v));
  if (d == DT::bf16) return cuclip::bf16_to_f32(cuclip::f32_to_bf16(v));
  return v;
}
inline std::vector<float> round_to(DT d, std::vector<float> v) {
  for (float& x : v) x = round_to(d, x);
  return v;
}

// Relative tolerance of one rounding to d, doubled: the kernel and the CPU reference compute in f32
// in different orders, which may move a value across a rounding boundary (one unit in the last
// place either way). f32 results: the CPU ops accumulate in double, the kernels in f32.
inline double rtol_of(DT d) { return d == DT::f32 ? 1e-5 : d == DT::f16 ? std::ldexp(1.0, -10) : std::ldexp(1.0, -7); }

// A device tensor of n elements of dtype d.
class DeviceTensor {
 public:
  DeviceTensor(DT d, size_t n) : dt_(d), n_(n), bytes_(n * dt_bytes(d)) { REQUIRE_OK(gpu::device_alloc(&ptr_, bytes_)); }
  DeviceTensor(DT d, const std::vector<float>& host) : DeviceTensor(d, host.size()) { upload(host); }
  DeviceTensor(const DeviceTensor&) = delete;
  DeviceTensor& operator=(const DeviceTensor&) = delete;
  ~DeviceTensor() { (void)gpu::device_free(ptr_); }
  void* get() const { return ptr_; }
  size_t size() const { return n_; }

  void upload(const std::vector<float>& host) {
    REQUIRE(host.size() == n_);
    std::vector<uint8_t> raw(bytes_);
    for (size_t i = 0; i < n_; ++i) {
      if (dt_ == DT::f32) {
        std::memcpy(raw.data() + 4 * i, &host[i], 4);
      } else {
        const uint16_t h = dt_ == DT::f16 ? cuclip::f32_to_f16(host[i]) : cuclip::f32_to_bf16(host[i]);
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
      if (dt_ == DT::f32) {
        std::memcpy(&out[i], raw.data() + 4 * i, 4);
      } else {
        uint16_t h;
        std::memcpy(&h, raw.data() + 2 * i, 2);
        out[i] = dt_ == DT::f16 ? cuclip::f16_to_f32(h) : cuclip::bf16_to_f32(h);
      }
    }
    return out;
  }
  // 0xff bytes: NaN in every float format, so an element the kernel fails to write fails the check.
  void poison() { REQUIRE_OK(gpu::memset(ptr_, 0xff, bytes_, nullptr)); }

 private:
  DT dt_;
  size_t n_, bytes_;
  void* ptr_ = nullptr;
};

}  // namespace cuclip_test
