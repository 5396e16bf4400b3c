// Test kernels that each break one CUDA rule (undefined behaviour or a fault on the GPU) which the
// emulator must report as a launch error. They compile with nvcc but are only run emulated.
#include "kernels/common.cuh"
#include "test_kernels.hpp"

namespace cuclip_test::inline CUCLIP_BUILD_NS {
using namespace cuclip::kernels;

__global__ void thread0_skips_barrier_kernel(int* out) {
  if (threadIdx.x != 0) __syncthreads();
  out[threadIdx.x] = 1;
}

__global__ void barriers_at_two_sites_kernel(int* out) {
  if (threadIdx.x < 16) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = 1;
}

__global__ void shuffle_outside_mask_kernel(int* out) {
  const unsigned low_half = 0x0000ffffu;
  if (threadIdx.x < 16) out[threadIdx.x] = __shfl_sync(low_half, static_cast<int>(threadIdx.x), 20);
}

__global__ void mask_without_own_lane_kernel(int* out) {
  if (threadIdx.x == 0) out[0] = __shfl_sync(0x2u, 1, 1);
}

__global__ void shuffle_exited_lane_kernel(int* out) {
  if (threadIdx.x >= 16) return;
  out[threadIdx.x] = __shfl_xor_sync(kFullMask, static_cast<int>(threadIdx.x), 1);
}

__global__ void read_at_index_kernel(float* out, const float* x, long long index) {
  if (threadIdx.x == 0) out[0] = x[index];
}

__global__ void write_at_index_kernel(float* x, long long index) {
  if (threadIdx.x == 0) x[index] = 1.0f;
}

__global__ void dynamic_smem_overrun_kernel(float* out, int count) {
  float* buf = dynamic_smem<float>();
  buf[threadIdx.x] = 1.0f;  // thread count == count + 1: the last one writes past the end
  __syncthreads();
  if (threadIdx.x == 0) out[0] = buf[0] + static_cast<float>(count);
}

__global__ void deadlock_kernel(int* out) {
  if (threadIdx.x == 0) __syncwarp();  // waits for lanes 1-31, which wait at the barrier
  __syncthreads();
  out[threadIdx.x] = 1;
}

__device__ int recurse(int depth) {
  volatile char frame[4096];
  frame[0] = static_cast<char>(depth);
  if (depth == 0) return frame[0];
  return recurse(depth - 1) + frame[0];
}

__global__ void overflow_stack_kernel(int* out, int depth) { out[threadIdx.x] = recurse(depth); }

__global__ void trap_kernel(int* out) {
  if (threadIdx.x == 5) __trap();
  out[threadIdx.x] = 1;
}

__global__ void ldmatrix_misaligned_kernel(uint32_t* out) {
  __shared__ __align__(16) uint16_t tile[16 * 8 + 8];
  for (int i = threadIdx.x; i < 16 * 8 + 8; i += 32) tile[i] = static_cast<uint16_t>(i);
  __syncthreads();
  uint32_t r[1];
  ldmatrix_x1(r, &tile[(threadIdx.x % 8) * 8 + 1]);  // rows start 2 bytes into a 16-byte line
  out[threadIdx.x] = r[0];
}

Status thread0_skips_barrier(int* out, cudaStream_t s) {
  return CUCLIP_LAUNCH(thread0_skips_barrier_kernel, dim3(1), dim3(64), 0, s, out);
}
Status barriers_at_two_sites(int* out, cudaStream_t s) {
  return CUCLIP_LAUNCH(barriers_at_two_sites_kernel, dim3(1), dim3(64), 0, s, out);
}
Status shuffle_reads_lane_outside_mask(int* out, cudaStream_t s) {
  return CUCLIP_LAUNCH(shuffle_outside_mask_kernel, dim3(1), dim3(32), 0, s, out);
}
Status shuffle_mask_without_own_lane(int* out, cudaStream_t s) {
  return CUCLIP_LAUNCH(mask_without_own_lane_kernel, dim3(1), dim3(32), 0, s, out);
}
Status shuffle_waits_for_exited_lane(int* out, cudaStream_t s) {
  return CUCLIP_LAUNCH(shuffle_exited_lane_kernel, dim3(1), dim3(32), 0, s, out);
}
Status read_at_index(float* out, const float* x, long long index, cudaStream_t s) {
  return CUCLIP_LAUNCH(read_at_index_kernel, dim3(1), dim3(32), 0, s, out, x, index);
}
Status write_at_index(float* x, long long index, cudaStream_t s) {
  return CUCLIP_LAUNCH(write_at_index_kernel, dim3(1), dim3(32), 0, s, x, index);
}
Status dynamic_smem_overrun(float* out, int count, cudaStream_t s) {
  return CUCLIP_LAUNCH(dynamic_smem_overrun_kernel, dim3(1), dim3(count + 1), count * sizeof(float), s, out, count);
}
Status warp_waits_on_barrier_deadlock(int* out, cudaStream_t s) {
  return CUCLIP_LAUNCH(deadlock_kernel, dim3(1), dim3(32), 0, s, out);
}
Status overflow_stack(int* out, int depth, cudaStream_t s) {
  return CUCLIP_LAUNCH(overflow_stack_kernel, dim3(1), dim3(1), 0, s, out, depth);
}
Status call_trap(int* out, cudaStream_t s) { return CUCLIP_LAUNCH(trap_kernel, dim3(1), dim3(32), 0, s, out); }
Status ldmatrix_misaligned(uint32_t* out, cudaStream_t s) {
  return CUCLIP_LAUNCH(ldmatrix_misaligned_kernel, dim3(1), dim3(32), 0, s, out);
}

}  // namespace cuclip_test::inline CUCLIP_BUILD_NS
