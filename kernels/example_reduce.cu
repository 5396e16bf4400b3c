// Row sums: out[r] = sum over c of x[r, c]. A deliberately small kernel that shows the shape every
// kernel in kernels/ follows and that both builds (nvcc and the CPU emulator) run: one block per row,
// threads stride over the row, each warp reduces its partial sums with shuffles, warp results meet
// in static shared memory, and warp 0 reduces those.
#include "kernels/common.cuh"
#include "kernels/example_reduce.hpp"

namespace cuclip::kernels::inline CUCLIP_BUILD_NS {

constexpr int kRowSumThreads = 256;  // 8 warps: enough threads to stream a 768-wide row

// Sum of v over the warp's 32 lanes, available in every lane.
__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(kFullMask, v, offset);
  return v;
}

// Sum of v over the block, valid in thread 0. blockDim.x must be a multiple of 32.
__device__ float block_sum(float v) {
  __shared__ float warp_partials[32];
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  v = warp_sum(v);
  if (lane == 0) warp_partials[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < static_cast<int>(blockDim.x / kWarpSize) ? warp_partials[lane] : 0.0f;
    v = warp_sum(v);
  }
  return v;
}

__global__ void row_sum_kernel(float* out, const float* x, int cols) {
  const float* row = x + static_cast<size_t>(blockIdx.x) * cols;
  float v = 0.0f;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) v += row[c];
  v = block_sum(v);
  if (threadIdx.x == 0) out[blockIdx.x] = v;
}

Status row_sum_forward(float* out, const float* x, int rows, int cols, cudaStream_t stream) {
  if (rows < 0 || cols < 0) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "row_sum_forward: negative shape");
  if (rows == 0) return Status::Ok();
  return CUCLIP_LAUNCH(row_sum_kernel, dim3(rows), dim3(kRowSumThreads), 0, stream, out, x, cols);
}

}  // namespace cuclip::kernels::inline CUCLIP_BUILD_NS
