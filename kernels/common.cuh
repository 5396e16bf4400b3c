// Portable device helpers for the kernels in kernels/: every kernel file includes this first.
//
// Under nvcc it pulls in the CUDA headers and the helpers below are inline PTX; compiled by the
// host compiler it pulls in the CPU emulator (kernels/emu/cuda_emu.hpp) and the same helpers call
// the emulator's warp-collective implementations. A kernel written against these helpers compiles
// unchanged both ways; see docs/emulation.md for the rules (dynamic_smem<T>() instead of
// `extern __shared__`, cp.async / ldmatrix / mma only through these wrappers).
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#else
#include "kernels/emu/cuda_emu.hpp"
#include <source_location>
#endif

#include "kernels/gpu.hpp"
#include "kernels/launch.hpp"

// A trailing parameter that exists only in the emulated build: the call site, for error messages.
#if defined(__CUDACC__)
#define CUCLIP_EMU_LOC_PARAM
#define CUCLIP_EMU_LOC_ONLY_PARAM
#else
#define CUCLIP_EMU_LOC_PARAM , std::source_location loc = std::source_location::current()
#define CUCLIP_EMU_LOC_ONLY_PARAM std::source_location loc = std::source_location::current()
#endif

namespace cuclip::kernels::inline CUCLIP_BUILD_NS {

constexpr int kWarpSize = 32;
constexpr unsigned kFullMask = 0xffffffffu;

template <class T>
__host__ __device__ constexpr T ceil_div(T a, T b) { return (a + b - 1) / b; }

// The block's dynamic shared memory (the launch's dyn_smem bytes, 16-byte aligned). In the
// emulator it is poisoned with 0xff bytes (NaN) at every block start and guarded at its end.
template <class T>
__device__ __forceinline__ T* dynamic_smem() {
#if defined(__CUDACC__)
  extern __shared__ __align__(16) unsigned char cuclip_dynamic_smem[];
  return reinterpret_cast<T*>(cuclip_dynamic_smem);
#else
  return static_cast<T*>(::cuclip::emu::dynamic_smem_base());
#endif
}

// Two 16-bit values as one 32-bit fragment register: lo in bits 0..15, as mma/ldmatrix expect.
__device__ __forceinline__ uint32_t pack_half2(__half lo, __half hi) {
  return static_cast<uint32_t>(__half_as_ushort(lo)) | (static_cast<uint32_t>(__half_as_ushort(hi)) << 16);
}
__device__ __forceinline__ uint32_t pack_bfloat162(__nv_bfloat16 lo, __nv_bfloat16 hi) {
  return static_cast<uint32_t>(__bfloat16_as_ushort(lo)) | (static_cast<uint32_t>(__bfloat16_as_ushort(hi)) << 16);
}

// --- cp.async (sm_80+): 16-byte global -> shared copies that complete at cp_async_wait ---------
// src_bytes < 16 copies that many bytes and zero-fills the rest (0 = just zero-fill), the usual way
// to handle a tile's ragged edge. Both addresses must be 16-byte aligned.
__device__ __forceinline__ void cp_async_16(void* smem, const void* gmem, int src_bytes = 16 CUCLIP_EMU_LOC_PARAM) {
#if defined(__CUDACC__)
  unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(src_bytes) : "memory");
#else
  ::cuclip::emu::cp_async(smem, gmem, 16, src_bytes, loc);
#endif
}
// Closes the group of copies issued since the previous commit.
__device__ __forceinline__ void cp_async_commit() {
#if defined(__CUDACC__)
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#else
  ::cuclip::emu::cp_async_commit();
#endif
}
// Waits until at most N committed groups are still in flight.
template <int N>
__device__ __forceinline__ void cp_async_wait(CUCLIP_EMU_LOC_ONLY_PARAM) {
#if defined(__CUDACC__)
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
#else
  ::cuclip::emu::cp_async_wait(N, loc);
#endif
}

// --- ldmatrix (sm_75+): warp-collective loads of 8x8 b16 matrices from shared memory ----------
// Lane l passes the address of row l % 8 of matrix l / 8 (16 bytes, 16-byte aligned). Register i
// of lane l receives matrix i's elements (row l / 4, columns 2*(l % 4) and +1); with .trans,
// (rows 2*(l % 4) and +1, column l / 4). x1 uses lanes 0-7's addresses, x2 lanes 0-15's.
__device__ __forceinline__ void ldmatrix_x1(uint32_t (&r)[1], const void* smem_row CUCLIP_EMU_LOC_PARAM) {
#if defined(__CUDACC__)
  unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem_row));
  asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(s) : "memory");
#else
  ::cuclip::emu::ldmatrix(1, false, smem_row, r, loc);
#endif
}
__device__ __forceinline__ void ldmatrix_x2(uint32_t (&r)[2], const void* smem_row CUCLIP_EMU_LOC_PARAM) {
#if defined(__CUDACC__)
  unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem_row));
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(s) : "memory");
#else
  ::cuclip::emu::ldmatrix(2, false, smem_row, r, loc);
#endif
}
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* smem_row CUCLIP_EMU_LOC_PARAM) {
#if defined(__CUDACC__)
  unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem_row));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(s) : "memory");
#else
  ::cuclip::emu::ldmatrix(4, false, smem_row, r, loc);
#endif
}
__device__ __forceinline__ void ldmatrix_x2_trans(uint32_t (&r)[2], const void* smem_row CUCLIP_EMU_LOC_PARAM) {
#if defined(__CUDACC__)
  unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem_row));
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(s) : "memory");
#else
  ::cuclip::emu::ldmatrix(2, true, smem_row, r, loc);
#endif
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* smem_row CUCLIP_EMU_LOC_PARAM) {
#if defined(__CUDACC__)
  unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem_row));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(s) : "memory");
#else
  ::cuclip::emu::ldmatrix(4, true, smem_row, r, loc);
#endif
}

// --- mma.sync m16n8k16 (sm_80+): D = A * B + C on one warp, f32 accumulate ---------------------
// Fragments per lane (g = lane / 4, t = lane % 4), as the PTX ISA lays them out:
//   a[0] = A[g][2t..2t+1]    a[1] = A[g+8][2t..2t+1]   a[2] = A[g][2t+8..]   a[3] = A[g+8][2t+8..]
//   b[0] = B[2t..2t+1][g]    b[1] = B[2t+8..2t+9][g]
//   c/d[0..1] = C[g][2t..2t+1]                          c/d[2..3] = C[g+8][2t..2t+1]
// (A 16x16 row-major, B 16x8 column-major, C/D 16x8; the lower column/row in the low 16 bits.)
__device__ __forceinline__ void mma_m16n8k16_f16f32(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                                                    const float (&c)[4] CUCLIP_EMU_LOC_PARAM) {
#if defined(__CUDACC__)
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%10, %11, %12, %13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
#else
  ::cuclip::emu::mma_m16n8k16(::cuclip::emu::MmaType::f16, a, b, c, d, loc);
#endif
}
__device__ __forceinline__ void mma_m16n8k16_bf16f32(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                                                     const float (&c)[4] CUCLIP_EMU_LOC_PARAM) {
#if defined(__CUDACC__)
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%10, %11, %12, %13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
#else
  ::cuclip::emu::mma_m16n8k16(::cuclip::emu::MmaType::bf16, a, b, c, d, loc);
#endif
}

}  // namespace cuclip::kernels::inline CUCLIP_BUILD_NS
