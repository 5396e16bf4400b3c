// Test kernels for the emulator's execution model: barriers, shuffles, votes, atomics, shared memory.
// Valid CUDA: they compile with nvcc too, and behave the same on a GPU.
#include "kernels/common.cuh"
#include "test_kernels.hpp"

namespace cuclip_test::inline CUCLIP_BUILD_NS {
using namespace cuclip::kernels;

constexpr int kMaxThreads = 1024;

__global__ void block_scan_kernel(int* out, const int* in, int n) {
  __shared__ int buf[2][kMaxThreads];
  const int t = threadIdx.x, base = blockIdx.x * n;
  int cur = 0;
  buf[cur][t] = in[base + t];
  __syncthreads();
  for (int offset = 1; offset < n; offset *= 2) {
    int v = buf[cur][t];
    if (t >= offset) v += buf[cur][t - offset];
    buf[1 - cur][t] = v;
    cur = 1 - cur;
    __syncthreads();
  }
  out[base + t] = buf[cur][t];
}

__global__ void neighbour_exchange_kernel(int* out, int n) {
  __shared__ int values[kMaxThreads];
  const int t = threadIdx.x;
  values[t] = t * 3 + 1000 * static_cast<int>(blockIdx.x);
  __syncthreads();
  out[blockIdx.x * n + t] = values[(t + 1) % n];
}

__global__ void barrier_reductions_kernel(int* out, const int* pred, int n) {
  int p = pred[blockIdx.x * n + threadIdx.x];
  int count = __syncthreads_count(p);
  int all = __syncthreads_and(p);
  int any = __syncthreads_or(p);
  if (threadIdx.x == 0) {
    out[blockIdx.x * 3 + 0] = count;
    out[blockIdx.x * 3 + 1] = all;
    out[blockIdx.x * 3 + 2] = any;
  }
}

__global__ void shuffle_kernel(int* out, const int* in, const int* arg, int mode, int width, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  int v = in[i], a = arg[i], r = 0;
  if (mode == 0) r = __shfl_sync(kFullMask, v, a, width);
  if (mode == 1) r = __shfl_up_sync(kFullMask, v, static_cast<unsigned>(a), width);
  if (mode == 2) r = __shfl_down_sync(kFullMask, v, static_cast<unsigned>(a), width);
  if (mode == 3) r = __shfl_xor_sync(kFullMask, v, a, width);
  if (i < n) out[i] = r;
}

__global__ void shuffle_double_kernel(double* out, const double* in, const int* src, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  double r = __shfl_sync(kFullMask, in[i], src[i]);
  if (i < n) out[i] = r;
}

__global__ void votes_kernel(unsigned* out, const int* pred, unsigned mask) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (!(mask >> (threadIdx.x % 32) & 1u)) return;
  int p = pred[i];
  unsigned ballot = __ballot_sync(mask, p);
  int all = __all_sync(mask, p);
  int any = __any_sync(mask, p);
  out[i * 3 + 0] = ballot;
  out[i * 3 + 1] = static_cast<unsigned>(all);
  out[i * 3 + 2] = static_cast<unsigned>(any);
}

__global__ void active_mask_kernel(unsigned* out) { out[threadIdx.x] = __activemask(); }

__global__ void atomics_kernel(int* counters, float* sum) {
  int id = blockIdx.x * blockDim.x + threadIdx.x;
  atomicAdd(&counters[0], 1);
  atomicAdd(sum, 1.0f);
  atomicMax(&counters[1], id);
  int old = counters[2], seen;
  do {  // an increment built from compare-and-swap
    seen = old;
    old = atomicCAS(&counters[2], seen, seen + 1);
  } while (old != seen);
  atomicExch(&counters[3], 7);
}

__global__ void block_ticket_kernel(int* out, int* counter) {
  if (threadIdx.x == 0) out[blockIdx.x] = atomicAdd(counter, 1);
}

// Every block writes its own id to static shared memory, then checks it over several barriers while
// other blocks (on other host threads in the emulator) do the same.
__global__ void shared_isolation_kernel(int* ok) {
  __shared__ int owner[64];
  __shared__ int bad;
  if (threadIdx.x == 0) bad = 0;
  __syncthreads();
  for (int round = 0; round < 8; ++round) {
    owner[threadIdx.x] = static_cast<int>(blockIdx.x) * 100 + round;
    __syncthreads();
    if (owner[(threadIdx.x + round) % 64] != static_cast<int>(blockIdx.x) * 100 + round) atomicOr(&bad, 1);
    __syncthreads();
  }
  if (threadIdx.x == 0) ok[blockIdx.x] = bad == 0;
}

__global__ void dynamic_smem_kernel(uint32_t* first_read, float* out, const float* in, int count) {
  float* buf = dynamic_smem<float>();
  const float* src = in + blockIdx.x * count;
  uint32_t poison;
  memcpy(&poison, &buf[threadIdx.x], 4);
  first_read[blockIdx.x * count + threadIdx.x] = poison;
  __syncthreads();
  buf[threadIdx.x] = src[threadIdx.x];
  __syncthreads();
  out[blockIdx.x * count + threadIdx.x] = buf[count - 1 - threadIdx.x];
}

__global__ void big_dynamic_smem_kernel(float* out, int count) {
  float* buf = dynamic_smem<float>();
  for (int i = threadIdx.x; i < count; i += blockDim.x) buf[i] = static_cast<float>(i);
  __syncthreads();
  if (threadIdx.x == 0) out[0] = buf[count - 1];
}

__global__ void configured_kernel(int* out) {
  if (threadIdx.x == 0 && threadIdx.y == 0 && threadIdx.z == 0) atomicAdd(out, 1);
}

__global__ void barrier_loop_kernel(int* out, int iterations) {
  int acc = 0;
  for (int i = 0; i < iterations; ++i) {
    acc += static_cast<int>(threadIdx.x);
    __syncthreads();
  }
  if (threadIdx.x == 0) out[0] = acc;
}

Status block_scan(int* out, const int* in, int blocks, int n, cudaStream_t s) {
  return CUCLIP_LAUNCH(block_scan_kernel, dim3(blocks), dim3(n), 0, s, out, in, n);
}
Status neighbour_exchange(int* out, int blocks, int n, cudaStream_t s) {
  return CUCLIP_LAUNCH(neighbour_exchange_kernel, dim3(blocks), dim3(n), 0, s, out, n);
}
Status barrier_reductions(int* out, const int* pred, int blocks, int n, cudaStream_t s) {
  return CUCLIP_LAUNCH(barrier_reductions_kernel, dim3(blocks), dim3(n), 0, s, out, pred, n);
}
Status shuffle(int* out, const int* in, const int* arg, int mode, int width, int n, cudaStream_t s) {
  return CUCLIP_LAUNCH(shuffle_kernel, dim3(ceil_div(n, 64)), dim3(64), 0, s, out, in, arg, mode, width, n);
}
Status shuffle_double(double* out, const double* in, const int* src, int n, cudaStream_t s) {
  return CUCLIP_LAUNCH(shuffle_double_kernel, dim3(ceil_div(n, 64)), dim3(64), 0, s, out, in, src, n);
}
Status votes(unsigned* out, const int* pred, unsigned mask, int n, cudaStream_t s) {
  return CUCLIP_LAUNCH(votes_kernel, dim3(ceil_div(n, 64)), dim3(64), 0, s, out, pred, mask);
}
Status active_masks(unsigned* out, int n, cudaStream_t s) {
  return CUCLIP_LAUNCH(active_mask_kernel, dim3(1), dim3(n), 0, s, out);
}
Status atomics(int* counters, float* sum, int blocks, int n, cudaStream_t s) {
  return CUCLIP_LAUNCH(atomics_kernel, dim3(blocks), dim3(n), 0, s, counters, sum);
}
Status block_tickets(int* out, int* counter, int blocks, cudaStream_t s) {
  return CUCLIP_LAUNCH(block_ticket_kernel, dim3(blocks), dim3(32), 0, s, out, counter);
}
Status shared_isolation(int* ok, int blocks, cudaStream_t s) {
  return CUCLIP_LAUNCH(shared_isolation_kernel, dim3(blocks), dim3(64), 0, s, ok);
}
Status dynamic_smem_roundtrip(uint32_t* first_read, float* out, const float* in, int blocks, int count, cudaStream_t s) {
  return CUCLIP_LAUNCH(dynamic_smem_kernel, dim3(blocks), dim3(count), count * sizeof(float), s, first_read, out, in, count);
}
Status big_dynamic_smem(float* out, size_t dyn_smem, bool opt_in, cudaStream_t s) {
  if (opt_in) {
    cudaError_t e = cudaFuncSetAttribute(big_dynamic_smem_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         static_cast<int>(dyn_smem));
    if (e != cudaSuccess) {
      (void)cudaGetLastError();  // clear it, or the next launch's check would report it
      return cuclip::Err(CUCLIP_ERR_DEVICE, cudaGetErrorString(e));
    }
  }
  return CUCLIP_LAUNCH(big_dynamic_smem_kernel, dim3(1), dim3(128), dyn_smem, s, out,
                       static_cast<int>(dyn_smem / sizeof(float)));
}
Status configured_launch(int* out, dim3 grid, dim3 block, cudaStream_t s) {
  return CUCLIP_LAUNCH(configured_kernel, grid, block, 0, s, out);
}
Status barrier_loop(int* out, int n, int iterations, cudaStream_t s) {
  return CUCLIP_LAUNCH(barrier_loop_kernel, dim3(1), dim3(n), 0, s, out, iterations);
}

}  // namespace cuclip_test::inline CUCLIP_BUILD_NS
