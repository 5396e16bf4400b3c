// The device side of the CPU emulator: CUDA's qualifiers, the built-in index variables, barriers,
// warp shuffles and votes, as kernel code sees them. The collective operations are implemented by
// the block scheduler (scheduler.cpp): each CUDA thread is a fiber, and a call here that has to
// wait for other threads parks the calling fiber until they arrive.
//
// Every collective takes a std::source_location defaulted at the call site, so errors (barrier
// divergence, a shuffle naming a lane outside its mask, a deadlock) point at the kernel's line.
#pragma once
#include <cstdint>
#include <cstring>
#include <source_location>
#include <type_traits>

#include "kernels/emu/cuda_types.hpp"

// Qualifiers. A __shared__ variable becomes a static thread_local: every thread of a block runs as
// a fiber on one host thread, and a host thread runs one block at a time, so the variable is
// exactly per block. (`extern __shared__` cannot work this way: kernels use dynamic_smem<T>().)
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __shared__ static thread_local
#define __constant__
#define __managed__
#define __grid_constant__
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))

namespace cuclip::emu {

// Set by the scheduler each time it switches to a fiber (threadIdx) or starts a block/launch.
inline thread_local uint3 threadIdx{};
inline thread_local uint3 blockIdx{};
inline thread_local dim3 blockDim{};
inline thread_local dim3 gridDim{};
constexpr int warpSize = 32;

enum class BarrierKind : int { sync, count, all, any };
enum class ShflMode : int { idx, up, down, bfly };
enum class VoteKind : int { ballot, all, any };
enum class MmaType : int { f16, bf16 };

// Implemented in scheduler.cpp; each may switch to another fiber before returning.
int barrier(BarrierKind kind, int predicate, const std::source_location& loc);
void syncwarp(unsigned mask, const std::source_location& loc);
uint64_t shfl(unsigned mask, uint64_t value, ShflMode mode, int lane_or_delta, int width, const std::source_location& loc);
unsigned vote(unsigned mask, VoteKind kind, int predicate, const std::source_location& loc);
unsigned activemask();
// ldmatrix .m8n8.b16 with num = 1, 2 or 4 matrices; out receives num registers of this lane.
void ldmatrix(int num, bool trans, const void* row_address, uint32_t* out, const std::source_location& loc);
// mma.sync m16n8k16 row.col with f32 accumulate; a[4], b[2], c[4] in, d[4] out (d may alias c).
void mma_m16n8k16(MmaType type, const uint32_t* a, const uint32_t* b, const float* c, float* d,
                  const std::source_location& loc);
// cp.async: the copy is deferred until cp_async_wait retires its group, as on the GPU, where reading
// the destination before the wait is a race.
void cp_async(void* smem, const void* gmem, int bytes, int src_bytes, const std::source_location& loc);
void cp_async_commit();
void cp_async_wait(int pending_groups_allowed, const std::source_location& loc);
void* dynamic_smem_base();
[[noreturn]] void trap(const char* what, const std::source_location& loc);

template <class T>
inline uint64_t to_lane_bits(T v) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "shuffled types are at most 64 bits");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  return bits;
}
template <class T>
inline T from_lane_bits(uint64_t bits) {
  T v;
  std::memcpy(&v, &bits, sizeof(T));
  return v;
}

}  // namespace cuclip::emu

using cuclip::emu::blockDim;
using cuclip::emu::blockIdx;
using cuclip::emu::gridDim;
using cuclip::emu::threadIdx;
using cuclip::emu::warpSize;

inline void __syncthreads(std::source_location loc = std::source_location::current()) {
  cuclip::emu::barrier(cuclip::emu::BarrierKind::sync, 1, loc);
}
inline int __syncthreads_count(int pred, std::source_location loc = std::source_location::current()) {
  return cuclip::emu::barrier(cuclip::emu::BarrierKind::count, pred, loc);
}
inline int __syncthreads_and(int pred, std::source_location loc = std::source_location::current()) {
  return cuclip::emu::barrier(cuclip::emu::BarrierKind::all, pred, loc);
}
inline int __syncthreads_or(int pred, std::source_location loc = std::source_location::current()) {
  return cuclip::emu::barrier(cuclip::emu::BarrierKind::any, pred, loc);
}
inline void __syncwarp(unsigned mask = 0xffffffffu, std::source_location loc = std::source_location::current()) {
  cuclip::emu::syncwarp(mask, loc);
}

template <class T>
T __shfl_sync(unsigned mask, T var, int src_lane, int width = 32,
              std::source_location loc = std::source_location::current()) {
  using namespace cuclip::emu;
  return from_lane_bits<T>(shfl(mask, to_lane_bits(var), ShflMode::idx, src_lane, width, loc));
}
template <class T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = 32,
                 std::source_location loc = std::source_location::current()) {
  using namespace cuclip::emu;
  return from_lane_bits<T>(shfl(mask, to_lane_bits(var), ShflMode::up, static_cast<int>(delta), width, loc));
}
template <class T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = 32,
                   std::source_location loc = std::source_location::current()) {
  using namespace cuclip::emu;
  return from_lane_bits<T>(shfl(mask, to_lane_bits(var), ShflMode::down, static_cast<int>(delta), width, loc));
}
template <class T>
T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = 32,
                  std::source_location loc = std::source_location::current()) {
  using namespace cuclip::emu;
  return from_lane_bits<T>(shfl(mask, to_lane_bits(var), ShflMode::bfly, lane_mask, width, loc));
}

inline unsigned __ballot_sync(unsigned mask, int pred, std::source_location loc = std::source_location::current()) {
  return cuclip::emu::vote(mask, cuclip::emu::VoteKind::ballot, pred, loc);
}
inline int __all_sync(unsigned mask, int pred, std::source_location loc = std::source_location::current()) {
  return static_cast<int>(cuclip::emu::vote(mask, cuclip::emu::VoteKind::all, pred, loc));
}
inline int __any_sync(unsigned mask, int pred, std::source_location loc = std::source_location::current()) {
  return static_cast<int>(cuclip::emu::vote(mask, cuclip::emu::VoteKind::any, pred, loc));
}
// The lanes of this warp that have not exited (fibers are not converged in the hardware sense).
inline unsigned __activemask() { return cuclip::emu::activemask(); }

[[noreturn]] inline void __trap(std::source_location loc = std::source_location::current()) {
  cuclip::emu::trap("__trap()", loc);
}
