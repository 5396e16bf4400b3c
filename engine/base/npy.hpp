// NumPy .npy files (format 1.0/2.0/3.0, little-endian float32 / int32 / int64 / uint8, C order).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.hpp"

namespace cuclip {

// Writes float32 data of the given shape, all-or-nothing.
Status npy_write_f32(const std::string& path, const std::vector<int64_t>& shape, const float* data);

struct NpyArray {
  std::string dtype;             // "<f4", "<i4", "<i8", "|u1"
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;    // raw little-endian data
  int64_t numel() const;
  std::vector<float> as_f32() const;    // converts from any supported dtype
  std::vector<int64_t> as_i64() const;
};

// Reads an .npy file; refuses Fortran order, big-endian and unsupported dtypes.
Status npy_read(const std::string& path, NpyArray* out);

}  // namespace cuclip
