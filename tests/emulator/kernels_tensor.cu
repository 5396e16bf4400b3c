// Test kernels for the tensor-core and async-copy wrappers of kernels/common.cuh: ldmatrix, mma.sync
// m16n8k16 (f16 and bf16), cp.async. Valid CUDA; under nvcc the mma kernel compiles to HMMA.
#include "kernels/common.cuh"
#include "test_kernels.hpp"

namespace cuclip_test::inline CUCLIP_BUILD_NS {
using namespace cuclip::kernels;

// Lane l's row address for matrix l / 8 of a 16x16 tile split into four 8x8 matrices:
// 0 = rows 0-7 x cols 0-7, 1 = rows 8-15 x cols 0-7, 2 = rows 0-7 x cols 8-15, 3 = rows 8-15 x cols 8-15.
__device__ __forceinline__ const uint16_t* quadrant_row(const uint16_t (*tile)[16], int lane) {
  int matrix = lane / 8, row = lane % 8;
  return &tile[(matrix % 2) * 8 + row][(matrix / 2) * 8];
}

__global__ void ldmatrix_kernel(uint32_t* out, const uint16_t* src, int num, int trans) {
  __shared__ __align__(16) uint16_t tile[16][16];
  const int lane = threadIdx.x;
  for (int i = lane; i < 256; i += 32) tile[i / 16][i % 16] = src[i];
  __syncthreads();
  uint32_t r[4] = {0, 0, 0, 0};
  const uint16_t* row = quadrant_row(tile, lane);
  if (num == 1 && !trans) ldmatrix_x1(reinterpret_cast<uint32_t(&)[1]>(r), row);
  if (num == 2 && !trans) ldmatrix_x2(reinterpret_cast<uint32_t(&)[2]>(r), row);
  if (num == 4 && !trans) ldmatrix_x4(r, row);
  if (num == 2 && trans) ldmatrix_x2_trans(reinterpret_cast<uint32_t(&)[2]>(r), row);
  if (num == 4 && trans) ldmatrix_x4_trans(r, row);
  for (int i = 0; i < 4; ++i) out[lane * 4 + i] = r[i];
}

__device__ __forceinline__ uint32_t pack_bits(uint16_t lo, uint16_t hi) {
  return static_cast<uint32_t>(lo) | (static_cast<uint32_t>(hi) << 16);
}

// One warp computes the 16x8 tile of D at (blockIdx.y * 16, blockIdx.x * 8).
__global__ void mma_gemm_kernel(float* d, const uint16_t* a, const uint16_t* b, int n, int k, int bf16,
                                int via_ldmatrix, int swapped) {
  __shared__ __align__(16) uint16_t as[16][16];
  __shared__ __align__(16) uint16_t bs[16][8];
  const int lane = threadIdx.x, g = lane / 4, t = lane % 4;
  const int m0 = blockIdx.y * 16, n0 = blockIdx.x * 8;
  float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int k0 = 0; k0 < k; k0 += 16) {
    uint32_t af[4], bf[2];
    if (via_ldmatrix) {
      for (int i = lane; i < 256; i += 32) as[i / 16][i % 16] = a[(m0 + i / 16) * k + k0 + i % 16];
      for (int i = lane; i < 128; i += 32) bs[i / 8][i % 8] = b[(k0 + i / 8) * n + n0 + i % 8];
      __syncthreads();
      ldmatrix_x4(af, &as[lane % 16][(lane / 16) * 8]);
      ldmatrix_x2_trans(bf, &bs[lane % 16][0]);
      __syncthreads();
    } else {
      auto at = [&](int r, int c) { return a[(m0 + r) * k + k0 + c]; };
      auto bt = [&](int r, int c) { return b[(k0 + r) * n + n0 + c]; };
      af[0] = pack_bits(at(g, 2 * t), at(g, 2 * t + 1));
      af[1] = pack_bits(at(g + 8, 2 * t), at(g + 8, 2 * t + 1));
      af[2] = pack_bits(at(g, 2 * t + 8), at(g, 2 * t + 9));
      af[3] = pack_bits(at(g + 8, 2 * t + 8), at(g + 8, 2 * t + 9));
      bf[0] = pack_bits(bt(2 * t, g), bt(2 * t + 1, g));
      bf[1] = pack_bits(bt(2 * t + 8, g), bt(2 * t + 9, g));
    }
    if (swapped) {
      uint32_t tmp = af[1];
      af[1] = af[2];
      af[2] = tmp;
    }
    if (bf16) {
      mma_m16n8k16_bf16f32(acc, af, bf, acc);
    } else {
      mma_m16n8k16_f16f32(acc, af, bf, acc);
    }
  }
  d[(m0 + g) * n + n0 + 2 * t] = acc[0];
  d[(m0 + g) * n + n0 + 2 * t + 1] = acc[1];
  d[(m0 + g + 8) * n + n0 + 2 * t] = acc[2];
  d[(m0 + g + 8) * n + n0 + 2 * t + 1] = acc[3];
}

__global__ void cp_async_kernel(uint32_t* after_wait1, uint32_t* after_wait0, const uint32_t* src) {
  uint32_t* smem = dynamic_smem<uint32_t>();
  const int t = threadIdx.x;
  cp_async_16(&smem[t * 4], &src[t * 4]);
  cp_async_commit();
  cp_async_16(&smem[128 + t * 4], &src[128 + t * 4], 4);  // 4 source bytes, 12 zero-filled
  cp_async_commit();
  cp_async_wait<1>();
  for (int i = 0; i < 4; ++i) {
    after_wait1[t * 4 + i] = smem[t * 4 + i];
    after_wait1[128 + t * 4 + i] = smem[128 + t * 4 + i];
  }
  cp_async_wait<0>();
  for (int i = 0; i < 4; ++i) after_wait0[t * 4 + i] = smem[128 + t * 4 + i];
}

Status ldmatrix_fragments(uint32_t* out, const uint16_t* tile, int num, bool trans, cudaStream_t s) {
  return CUCLIP_LAUNCH(ldmatrix_kernel, dim3(1), dim3(32), 0, s, out, tile, num, trans ? 1 : 0);
}
Status mma_gemm(float* d, const uint16_t* a, const uint16_t* b, int m, int n, int k, bool bf16, bool via_ldmatrix,
                bool swapped_fragment, cudaStream_t s) {
  return CUCLIP_LAUNCH(mma_gemm_kernel, dim3(n / 8, m / 16), dim3(32), 0, s, d, a, b, n, k, bf16 ? 1 : 0,
                       via_ldmatrix ? 1 : 0, swapped_fragment ? 1 : 0);
}
Status cp_async_groups(uint32_t* after_wait1, uint32_t* after_wait0, const uint32_t* src, cudaStream_t s) {
  return CUCLIP_LAUNCH(cp_async_kernel, dim3(1), dim3(32), 256 * sizeof(uint32_t), s, after_wait1, after_wait0, src);
}

}  // namespace cuclip_test::inline CUCLIP_BUILD_NS
