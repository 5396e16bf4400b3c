// Helpers for the tensor-core kernel tests (attention, GEMM): the shared dtype helpers and device
// tensors (tests/common/dtype_testing.hpp) and the rounding error of one dtype.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/dtype_testing.hpp"

namespace cuclip_test {

// Half an ulp of dt relative to the value: the error of one rounding to dt.
inline double half_ulp(DType dt) { return dt == DType::f16 ? 0x1p-11 : dt == DType::bf16 ? 0x1p-8 : 0x1p-24; }

}  // namespace cuclip_test
