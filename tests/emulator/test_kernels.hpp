// Launchers of the emulator's test kernels (kernels_basic.cu, kernels_errors.cu, kernels_tensor.cu).
// Each launches one small kernel through the project launcher and returns its Status.
#pragma once
#include <cstdint>

#include "kernels/gpu.hpp"

namespace cuclip_test::inline CUCLIP_BUILD_NS {
using cuclip::Status;

// --- kernels_basic.cu ---
// Inclusive prefix sum of in[block*n ...] per block in shared memory (Hillis-Steele: two barriers a step).
Status block_scan(int* out, const int* in, int blocks, int n, cudaStream_t s);
// out[b*n + t] = value thread (t+1)%n of block b wrote to static shared memory before a barrier.
Status neighbour_exchange(int* out, int blocks, int n, cudaStream_t s);
// Per block: out[b*3 + 0..2] = __syncthreads_count / _and / _or of pred[b*n + t].
Status barrier_reductions(int* out, const int* pred, int blocks, int n, cudaStream_t s);
// out[i] = shuffle of in[i] within each warp; mode 0 idx (arg[i] = source lane), 1 up, 2 down, 3 xor.
Status shuffle(int* out, const int* in, const int* arg, int mode, int width, int n, cudaStream_t s);
// Same with 64-bit values (double) and half values, idx mode.
Status shuffle_double(double* out, const double* in, const int* src, int n, cudaStream_t s);
// out[i*3 + 0..2] = ballot / all / any of pred[i] over mask (lanes outside mask write nothing).
Status votes(unsigned* out, const int* pred, unsigned mask, int n, cudaStream_t s);
// out[t] = __activemask() of each thread of one block of n threads.
Status active_masks(unsigned* out, int n, cudaStream_t s);
// counters[0] += 1 and sum += 1.0f from every thread; counters[1] = max(thread id); counters[2] via CAS.
Status atomics(int* counters, float* sum, int blocks, int n, cudaStream_t s);
// out[b] = the order in which block b started (an atomic ticket).
Status block_tickets(int* out, int* counter, int blocks, cudaStream_t s);
// ok[b] = 1 when block b saw only its own values in static shared memory over several barriers.
Status shared_isolation(int* ok, int blocks, cudaStream_t s);
// out[b*count + i]: the dynamic shared memory's value before any write (poison), then out2 the
// block's reversal of in through dynamic shared memory of count floats.
Status dynamic_smem_roundtrip(uint32_t* first_read, float* out, const float* in, int blocks, int count, cudaStream_t s);
// A kernel using dyn_smem bytes of dynamic shared memory; opt_in sets the attribute first.
Status big_dynamic_smem(float* out, size_t dyn_smem, bool opt_in, cudaStream_t s);
// A launch with the given (possibly invalid) block shape.
Status configured_launch(int* out, dim3 grid, dim3 block, cudaStream_t s);
// Barriers in a loop: 1000 __syncthreads per thread, n threads, one block (timing the scheduler).
Status barrier_loop(int* out, int n, int iterations, cudaStream_t s);

// --- kernels_errors.cu: each breaks one CUDA rule the emulator must report ---
Status thread0_skips_barrier(int* out, cudaStream_t s);
Status barriers_at_two_sites(int* out, cudaStream_t s);
Status shuffle_reads_lane_outside_mask(int* out, cudaStream_t s);
Status shuffle_mask_without_own_lane(int* out, cudaStream_t s);
Status shuffle_waits_for_exited_lane(int* out, cudaStream_t s);
Status read_at_index(float* out, const float* x, long long index, cudaStream_t s);
Status write_at_index(float* x, long long index, cudaStream_t s);
Status dynamic_smem_overrun(float* out, int count, cudaStream_t s);
Status warp_waits_on_barrier_deadlock(int* out, cudaStream_t s);
Status overflow_stack(int* out, int depth, cudaStream_t s);
Status call_trap(int* out, cudaStream_t s);
Status ldmatrix_misaligned(uint32_t* out, cudaStream_t s);

// --- kernels_tensor.cu ---
// One warp: loads 16x16 b16 values (row-major in global) into shared memory and runs
// ldmatrix num (1, 2, 4), trans or not; out[lane*4 + i] = register i.
Status ldmatrix_fragments(uint32_t* out, const uint16_t* tile, int num, bool trans, cudaStream_t s);
// D (M x N, row-major f32) = A (M x K row-major) * B (K x N row-major), f16 or bf16 bits, M, N, K
// multiples of 16, 8, 16. via_ldmatrix: fragments through ldmatrix (A x4, B x2.trans) instead of
// direct indexing. swapped_fragment: deliberately load a[1] and a[2] swapped (a layout bug).
Status mma_gemm(float* d, const uint16_t* a, const uint16_t* b, int m, int n, int k, bool bf16, bool via_ldmatrix,
                bool swapped_fragment, cudaStream_t s);
// cp.async of 2 groups of 16 bytes per thread (32 threads): out[0..] snapshot after wait<1>, out2
// after wait<0>; the last 16-byte chunk of each thread uses src_bytes 4 (zero-fill).
Status cp_async_groups(uint32_t* after_wait1, uint32_t* after_wait0, const uint32_t* src, cudaStream_t s);

}  // namespace cuclip_test::inline CUCLIP_BUILD_NS
