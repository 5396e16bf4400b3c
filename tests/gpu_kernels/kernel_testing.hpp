// Helpers for the CUDA backend's kernel tests: the shared dtype helpers and device tensors
// (tests/common/dtype_testing.hpp) and the per-dtype tolerances.
#pragma once
#include <cmath>

#include "common/dtype_testing.hpp"

namespace cuclip_test {

// Relative tolerance of one rounding to d, doubled: the kernel and the CPU reference compute in f32
// in different orders, which may move a value across a rounding boundary (one unit in the last
// place either way). f32 results: the CPU ops accumulate in double, the kernels in f32.
inline double rtol_of(DType d) { return d == DType::f32 ? 1e-5 : d == DType::f16 ? std::ldexp(1.0, -10) : std::ldexp(1.0, -7); }

}  // namespace cuclip_test
