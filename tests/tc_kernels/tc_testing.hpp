// Helpers for the tensor-core kernel tests (attention, GEMM): values in a device dtype (f32, f16,
// bf16) kept as raw bits on the host, rounding to that dtype, device buffers of such values.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

#include "base/half.hpp"
#include "emulator/emu_testing.hpp"

namespace cuclip_test {

using cuclip::gpu::DType;

inline const char* dtype_name(DType dt) { return dt == DType::f32 ? "f32" : dt == DType::f16 ? "f16" : "bf16"; }
inline size_t dtype_bytes(DType dt) { return dt == DType::f32 ? 4 : 2; }

// x rounded to dt (round to nearest even), as a float.
inline float round_to(DType dt, float x) {
  if (dt == DType::f16) return cuclip::f16_to_f32(cuclip::f32_to_f16(x));
  if (dt == DType::bf16) return cuclip::bf16_to_f32(cuclip::f32_to_bf16(x));
  return x;
}

// Rounds every value to dt in place (so the reference sees exactly what the kernel sees).
inline void round_all(DType dt, std::vector<float>& v) {
  for (float& x : v) x = round_to(dt, x);
}

// A device buffer of `count` values of dt.
class DtBuffer {
 public:
  DtBuffer(DType dt, size_t count) : dt_(dt), bytes_(count * dtype_bytes(dt)), buf_(bytes_ ? bytes_ : 1) {}
  void* get() const { return buf_.get(); }
  void upload(const std::vector<float>& v) {
    REQUIRE(v.size() * dtype_bytes(dt_) == bytes_);
    std::vector<unsigned char> raw(bytes_);
    for (size_t i = 0; i < v.size(); ++i) {
      if (dt_ == DType::f32) {
        std::memcpy(&raw[4 * i], &v[i], 4);
      } else {
        const uint16_t b = dt_ == DType::f16 ? cuclip::f32_to_f16(v[i]) : cuclip::f32_to_bf16(v[i]);
        std::memcpy(&raw[2 * i], &b, 2);
      }
    }
    REQUIRE_OK(gpu::memcpy_h2d(buf_.get(), raw.data(), bytes_, nullptr));
  }
  std::vector<float> download() const {
    std::vector<unsigned char> raw = buf_.download();
    std::vector<float> v(bytes_ / dtype_bytes(dt_));
    for (size_t i = 0; i < v.size(); ++i) {
      if (dt_ == DType::f32) {
        std::memcpy(&v[i], &raw[4 * i], 4);
      } else {
        uint16_t b;
        std::memcpy(&b, &raw[2 * i], 2);
        v[i] = dt_ == DType::f16 ? cuclip::f16_to_f32(b) : cuclip::bf16_to_f32(b);
      }
    }
    return v;
  }
  void poison() { buf_.poison(); }  // 0xff bytes: NaN in every dtype

 private:
  DType dt_;
  size_t bytes_;
  DeviceBuffer<unsigned char> buf_;
};

// Half an ulp of dt relative to the value: the error of one rounding to dt.
inline double half_ulp(DType dt) { return dt == DType::f16 ? 0x1p-11 : dt == DType::bf16 ? 0x1p-8 : 0x1p-24; }

}  // namespace cuclip_test
