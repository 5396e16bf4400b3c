// Launchers of kernels/example_reduce.cu, for host code (either build; see kernels/gpu.hpp).
#pragma once
#include "kernels/gpu.hpp"

namespace cuclip::kernels::inline CUCLIP_BUILD_NS {

// out[r] = sum_c x[r * cols + c] for r < rows. x: float[rows * cols], out: float[rows], device
// memory. rows, cols >= 0 (rows == 0 launches nothing). Enqueued on stream; never synchronizes.
Status row_sum_forward(float* out, const float* x, int rows, int cols, cudaStream_t stream);

}  // namespace cuclip::kernels::inline CUCLIP_BUILD_NS
