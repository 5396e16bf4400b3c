// Fused multi-head attention for CLIP: out = softmax(q k^T * HD^-0.5 [+ causal mask]) v, per
// sequence and head, reading the packed qkv activations of the preceding GEMM directly and writing
// the heads side by side in the [tokens, C] layout the output projection reads. Fusing QK^T, the
// softmax and PV means the T x T score matrix never leaves the SM: the only HBM traffic is q, k, v
// once and out once.
//
// f16 / bf16 (attention_tc_kernel), FlashAttention-2 style on mma.sync m16n8k16:
//   * a CTA of 4 warps takes a 64-row query tile of one (sequence, head); each warp owns 16 query
//     rows, holds them as A fragments in registers, and keeps its output rows and softmax statistics
//     (running max m, running sum l, in f32) in registers — no inter-warp reductions at all;
//   * keys and values stream through shared memory in 64-key tiles, double-buffered with cp.async
//     (tile j + 1 loads while tile j is used); S = Q K^T for the tile lands in accumulator registers,
//     which are rescaled/exponentiated in place (online softmax) and re-packed as the A fragments of
//     P for O += P V (the m16n8 accumulator layout of two adjacent key tiles is the m16k16 A layout);
//   * head dims that are not a multiple of 16 (8, 24, 40, ...) are padded to HDP = ceil16(HD) in
//     shared memory with zeros (cp.async zero-fill) in both Q and K, so the padded k-steps of Q K^T
//     add exact zeros; PV's n-dimension only needs multiples of 8, the padded V columns are never
//     stored. Rows past a sequence's end (and, for causal, keys past a row) are masked to -inf and
//     their loads zero-filled with an in-sequence address: no row reads another sequence;
//   * shared-memory rows are HDP + 8 elements: an odd number of 16-byte chunks, so the 8 rows an
//     ldmatrix reads fall in 8 different bank groups;
//   * packed variable-length sequences: sequence b is rows cu_seqlens[b]..cu_seqlens[b+1]-1; a CTA
//     whose tile starts past its sequence's end exits at once, so text batches cost their real
//     lengths, not 77 each. Causal tiles stop at the diagonal (keys beyond the tile's last row are
//     never loaded).
// Why streaming tiles rather than a whole head's K/V resident in shared memory (which fits for
// CLIP's T <= 577 at HD 64/80): each query tile reads every key once either way, all query tiles of
// a head run concurrently so repeated K/V reads are L2 hits, and streaming keeps the shared memory
// per CTA at 46-86 KB (2+ CTAs per SM, loads overlapped with math) instead of up to 200 KB (one CTA
// per SM, the first load exposed). See docs/kernels.md "## Attention".
//
// f32 (attention_f32_kernel): a plain CUDA-core kernel, one warp per query row with an online
// softmax over 32-key chunks; for the f32 compute mode and as a readable reference.
#include "kernels/common.cuh"
#include "kernels/attention.hpp"

#include <cmath>
#include <string>

#if defined(__CUDACC__)
#define CUCLIP_ATTN_UNROLL _Pragma("unroll")
#else
#define CUCLIP_ATTN_UNROLL
#endif

namespace cuclip::kernels::inline CUCLIP_BUILD_NS {
namespace {

// --- configuration --------------------------------------------------------------------------------
constexpr int kAttnWarps = 4;
constexpr int kAttnThreads = kAttnWarps * kWarpSize;
constexpr int kQTile = 16 * kAttnWarps;  // 64 query rows per CTA, 16 per warp
constexpr int kKvTile = 64;              // keys per shared-memory tile: 8 n8 score tiles per warp
constexpr float kLog2e = 1.4426950408889634f;

template <int HDP>  // HD padded to a multiple of 16
struct AttnShape {
  static constexpr int kStride = HDP + 8;  // smem row, elements: HDP/8 + 1 chunks (odd)
  static constexpr int kTileElems = 64 * kStride;
  static constexpr int kSmemBytes = 5 * kTileElems * 2;  // Q, K x 2, V x 2
  static constexpr int kChunks = HDP / 8;                // 16-byte chunks per row
};

template <class T>
struct AttnTc;
template <>
struct AttnTc<__half> {
  static __device__ __forceinline__ void mma(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
    mma_m16n8k16_f16f32(d, a, b, d);
  }
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    return pack_half2(__float2half_rn(lo), __float2half_rn(hi));
  }
};
template <>
struct AttnTc<__nv_bfloat16> {
  static __device__ __forceinline__ void mma(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
    mma_m16n8k16_bf16f32(d, a, b, d);
  }
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    return pack_bfloat162(__float2bfloat16_rn(lo), __float2bfloat16_rn(hi));
  }
};

// Queues cp.async copies of 64 rows (row0..) x HDP columns of one head's q, k or v block into a
// [64][kStride] smem tile. `col` points at the head's first column in row 0 of the sequence; rows
// >= len and columns >= HD are zero-filled from the (valid) sequence start.
template <int HDP>
__device__ __forceinline__ void load_rows(uint16_t* tile, const uint16_t* col, size_t ld, int row0, int len, int HD) {
  using S = AttnShape<HDP>;
  for (int i = threadIdx.x; i < 64 * S::kChunks; i += kAttnThreads) {
    const int r = i / S::kChunks, c = i % S::kChunks;
    const bool in = row0 + r < len && c * 8 < HD;
    const uint16_t* src = in ? col + static_cast<size_t>(row0 + r) * ld + c * 8 : col;
    cp_async_16(tile + r * S::kStride + c * 8, src, in ? 16 : 0);
  }
}

template <class T, int HDP>
__global__ void __launch_bounds__(kAttnThreads)
    attention_tc_kernel(const T* qkv, T* out, const int* cu_seqlens, int NH, int HD, bool causal, float scale) {
  using S = AttnShape<HDP>;
  constexpr int kDTiles = HDP / 8;   // n8 tiles of the output (PV) per warp
  constexpr int kDSteps = HDP / 16;  // k16 steps of Q K^T
  const int b = blockIdx.z, h = blockIdx.y;
  const int start = cu_seqlens[b], len = cu_seqlens[b + 1] - start;
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int g = lane / 4, t = lane % 4;
  const int C = NH * HD;
  const size_t ld = static_cast<size_t>(3) * C;
  const uint16_t* seq = reinterpret_cast<const uint16_t*>(qkv) + static_cast<size_t>(start) * ld;
  const uint16_t* q_col = seq + static_cast<size_t>(h) * HD;
  const uint16_t* k_col = q_col + C;
  const uint16_t* v_col = q_col + 2 * C;
  uint16_t* q_s = dynamic_smem<uint16_t>();
  uint16_t* k_s = q_s + S::kTileElems;      // two buffers
  uint16_t* v_s = k_s + 2 * S::kTileElems;  // two buffers
  const float scale_log2 = scale * kLog2e;

  // Grid-stride over query tiles, so a sequence longer than the launcher's max_seqlen is still
  // computed in full. The bounds are uniform over the CTA (every barrier below is reached by all).
  for (int qt = blockIdx.x; qt * kQTile < len; qt += gridDim.x) {
    const int q0 = qt * kQTile;
    const int kv_tiles = causal ? qt + 1 : ceil_div(len, kKvTile);  // causal: up to the diagonal tile
    load_rows<HDP>(q_s, q_col, ld, q0, len, HD);
    load_rows<HDP>(k_s, k_col, ld, 0, len, HD);
    load_rows<HDP>(v_s, v_col, ld, 0, len, HD);
    cp_async_commit();

    uint32_t qf[kDSteps][4];
    float o[kDTiles][4];
    CUCLIP_ATTN_UNROLL
    for (int d = 0; d < kDTiles; ++d)
      CUCLIP_ATTN_UNROLL
      for (int i = 0; i < 4; ++i) o[d][i] = 0.0f;
    float m[2] = {-INFINITY, -INFINITY};  // running max of raw scores, rows g and g + 8
    float l[2] = {0.0f, 0.0f};            // this lane's part of the running sum of exp

    for (int j = 0; j < kv_tiles; ++j) {
      const int buf = j % 2;
      if (j + 1 < kv_tiles) {
        const int nb = (j + 1) % 2;
        load_rows<HDP>(k_s + nb * S::kTileElems, k_col, ld, (j + 1) * kKvTile, len, HD);
        load_rows<HDP>(v_s + nb * S::kTileElems, v_col, ld, (j + 1) * kKvTile, len, HD);
        cp_async_commit();
        cp_async_wait<1>();  // tile j (and Q) landed; tile j + 1 may still be in flight
      } else {
        cp_async_wait<0>();
      }
      __syncthreads();
      if (j == 0) {
        CUCLIP_ATTN_UNROLL
        for (int ks = 0; ks < kDSteps; ++ks)
          ldmatrix_x4(qf[ks], q_s + (warp * 16 + lane % 16) * S::kStride + ks * 16 + (lane / 16) * 8);
      }
      const uint16_t* kt = k_s + buf * S::kTileElems;
      const uint16_t* vt = v_s + buf * S::kTileElems;

      // S = Q K^T: 16 rows x 64 keys per warp.
      float s[kKvTile / 8][4];
      CUCLIP_ATTN_UNROLL
      for (int n = 0; n < kKvTile / 8; ++n)
        CUCLIP_ATTN_UNROLL
        for (int i = 0; i < 4; ++i) s[n][i] = 0.0f;
      CUCLIP_ATTN_UNROLL
      for (int ks = 0; ks < kDSteps; ++ks) {
        CUCLIP_ATTN_UNROLL
        for (int np = 0; np < kKvTile / 16; ++np) {
          // A K row is a B column: matrices (keys 0-7, d 0-7), (keys 0-7, d 8-15), (keys 8-15, d 0-7),
          // (keys 8-15, d 8-15) give b[0], b[1] of key tiles 2np and 2np + 1.
          const int mat = lane / 8;
          uint32_t r[4];
          ldmatrix_x4(r, kt + (np * 16 + (mat / 2) * 8 + lane % 8) * S::kStride + ks * 16 + (mat % 2) * 8);
          const uint32_t b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
          AttnTc<T>::mma(s[2 * np], qf[ks], b0);
          AttnTc<T>::mma(s[2 * np + 1], qf[ks], b1);
        }
      }

      // Mask keys past the sequence (and past the row, causal), then the online softmax update.
      const int k0 = j * kKvTile;
      const int row[2] = {q0 + warp * 16 + g, q0 + warp * 16 + g + 8};
      float tile_max[2] = {-INFINITY, -INFINITY};
      CUCLIP_ATTN_UNROLL
      for (int n = 0; n < kKvTile / 8; ++n) {
        CUCLIP_ATTN_UNROLL
        for (int i = 0; i < 4; ++i) {
          const int key = k0 + n * 8 + 2 * t + (i % 2), r = i / 2;
          if (key >= len || (causal && key > row[r])) s[n][i] = -INFINITY;
          tile_max[r] = fmaxf(tile_max[r], s[n][i]);
        }
      }
      float alpha[2], m_use[2];
      CUCLIP_ATTN_UNROLL
      for (int r = 0; r < 2; ++r) {
        // The four lanes of a quad hold one row's 64 scores between them.
        tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(kFullMask, tile_max[r], 1));
        tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(kFullMask, tile_max[r], 2));
        const float m_new = fmaxf(m[r], tile_max[r]);
        // A row with no visible key yet keeps m = -inf; exponentiate against 0 so that it yields
        // zeros (exp(-inf)) rather than NaN (-inf - -inf).
        m_use[r] = m_new == -INFINITY ? 0.0f : m_new;
        alpha[r] = exp2f((m[r] - m_use[r]) * scale_log2);
        m[r] = m_new;
        l[r] *= alpha[r];
      }
      CUCLIP_ATTN_UNROLL
      for (int d = 0; d < kDTiles; ++d) {
        o[d][0] *= alpha[0];
        o[d][1] *= alpha[0];
        o[d][2] *= alpha[1];
        o[d][3] *= alpha[1];
      }
      CUCLIP_ATTN_UNROLL
      for (int n = 0; n < kKvTile / 8; ++n) {
        CUCLIP_ATTN_UNROLL
        for (int i = 0; i < 4; ++i) {
          const int r = i / 2;
          s[n][i] = exp2f(fmaf(s[n][i], scale_log2, -m_use[r] * scale_log2));
          l[r] += s[n][i];
        }
      }

      // O += P V: P's A fragment for keys 16kk..16kk+15 is the accumulators of score tiles 2kk, 2kk+1.
      CUCLIP_ATTN_UNROLL
      for (int kk = 0; kk < kKvTile / 16; ++kk) {
        const uint32_t pa[4] = {AttnTc<T>::pack(s[2 * kk][0], s[2 * kk][1]), AttnTc<T>::pack(s[2 * kk][2], s[2 * kk][3]),
                                AttnTc<T>::pack(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                                AttnTc<T>::pack(s[2 * kk + 1][2], s[2 * kk + 1][3])};
        CUCLIP_ATTN_UNROLL
        for (int dp = 0; dp < kDTiles / 2; ++dp) {
          // V is [key][d] (B row-major), hence .trans: matrices (keys 0-7, d 0-7), (keys 8-15, d 0-7),
          // (keys 0-7, d 8-15), (keys 8-15, d 8-15) give b[0], b[1] of d tiles 2dp and 2dp + 1.
          const int mat = lane / 8;
          uint32_t r[4];
          ldmatrix_x4_trans(r, vt + (kk * 16 + (mat % 2) * 8 + lane % 8) * S::kStride + dp * 16 + (mat / 2) * 8);
          const uint32_t b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
          AttnTc<T>::mma(o[2 * dp], pa, b0);
          AttnTc<T>::mma(o[2 * dp + 1], pa, b1);
        }
      }
      __syncthreads();  // every warp is done with buffer `buf` (and Q) before it is refilled
    }

    // out = O / l for the rows inside the sequence; padded head-dim columns are not stored.
    CUCLIP_ATTN_UNROLL
    for (int r = 0; r < 2; ++r) {
      l[r] += __shfl_xor_sync(kFullMask, l[r], 1);
      l[r] += __shfl_xor_sync(kFullMask, l[r], 2);
    }
    const int rows[2] = {q0 + warp * 16 + g, q0 + warp * 16 + g + 8};
    CUCLIP_ATTN_UNROLL
    for (int r = 0; r < 2; ++r) {
      if (rows[r] >= len) continue;
      const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
      uint32_t* dst = reinterpret_cast<uint32_t*>(reinterpret_cast<uint16_t*>(out) +
                                                  static_cast<size_t>(start + rows[r]) * C + static_cast<size_t>(h) * HD);
      CUCLIP_ATTN_UNROLL
      for (int d = 0; d < kDTiles; ++d) {
        if (d * 8 < HD) dst[d * 4 + t] = AttnTc<T>::pack(o[d][2 * r] * inv, o[d][2 * r + 1] * inv);
      }
    }
  }
}

// --- f32: CUDA cores ------------------------------------------------------------------------------
constexpr int kF32Warps = 4;
constexpr int kMaxHD = 128;
constexpr int kDimsPerLane = kMaxHD / kWarpSize;

__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}
__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}

__global__ void __launch_bounds__(kF32Warps * kWarpSize)
    attention_f32_kernel(const float* qkv, float* out, const int* cu_seqlens, int NH, int HD, bool causal, float scale) {
  __shared__ float q_s[kF32Warps][kMaxHD];
  const int b = blockIdx.z, h = blockIdx.y;
  const int start = cu_seqlens[b], len = cu_seqlens[b + 1] - start;
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int C = NH * HD;
  const size_t ld = static_cast<size_t>(3) * C;
  const float* seq = qkv + static_cast<size_t>(start) * ld + static_cast<size_t>(h) * HD;
  // One warp per query row; rows are warp-uniform, so warps may skip freely (no block barriers).
  for (int row = blockIdx.x * kF32Warps + warp; row < len; row += gridDim.x * kF32Warps) {
    for (int d = lane; d < HD; d += kWarpSize) q_s[warp][d] = seq[static_cast<size_t>(row) * ld + d];
    __syncwarp();
    const int keys = causal ? row + 1 : len;
    float m = -INFINITY, l = 0.0f, o[kDimsPerLane] = {};
    for (int k0 = 0; k0 < keys; k0 += kWarpSize) {
      const int key = k0 + lane;
      float s = -INFINITY;
      if (key < keys) {
        const float* krow = seq + static_cast<size_t>(key) * ld + C;
        float dot = 0.0f;
        for (int d = 0; d < HD; ++d) dot = fmaf(q_s[warp][d], krow[d], dot);
        s = dot * scale;
      }
      const float m_new = fmaxf(m, warp_max(s));  // finite: key k0 is always visible
      const float alpha = expf(m - m_new), p = expf(s - m_new);
      l = l * alpha + warp_sum(p);
      m = m_new;
      for (int i = 0; i < kDimsPerLane; ++i) o[i] *= alpha;
      const int chunk = min(kWarpSize, keys - k0);
      for (int jj = 0; jj < chunk; ++jj) {
        const float pj = __shfl_sync(kFullMask, p, jj);
        const float* vrow = seq + static_cast<size_t>(k0 + jj) * ld + 2 * C;
        for (int i = 0; i < kDimsPerLane; ++i) {
          const int d = lane + i * kWarpSize;
          if (d < HD) o[i] = fmaf(pj, vrow[d], o[i]);
        }
      }
    }
    float* dst = out + static_cast<size_t>(start + row) * C + static_cast<size_t>(h) * HD;
    for (int i = 0; i < kDimsPerLane; ++i) {
      const int d = lane + i * kWarpSize;
      if (d < HD) dst[d] = o[i] / l;
    }
    __syncwarp();  // q_s[warp] is rewritten for the next row
  }
}

// --- launchers ------------------------------------------------------------------------------------
template <class T, int HDP>
Status launch_tc(const void* qkv, void* out, const int* cu_seqlens, int B, int max_seqlen, int NH, int HD, bool causal,
                 float scale, cudaStream_t stream) {
  auto kernel = attention_tc_kernel<T, HDP>;
  constexpr int smem = AttnShape<HDP>::kSmemBytes;
  if (smem > 48 * 1024) {
    const cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
    if (e != cudaSuccess) {
      return Err(CUCLIP_ERR_DEVICE, "attention_forward: cudaFuncSetAttribute(" + std::to_string(smem) +
                                        " bytes of shared memory): " + cudaGetErrorString(e));
    }
  }
  const dim3 grid(ceil_div(max_seqlen, kQTile), NH, B);
  return CUCLIP_LAUNCH(kernel, grid, dim3(kAttnThreads), smem, stream, static_cast<const T*>(qkv), static_cast<T*>(out),
                       cu_seqlens, NH, HD, causal, scale);
}

template <class T>
Status launch_tc_for_hd(const void* qkv, void* out, const int* cu_seqlens, int B, int max_seqlen, int NH, int HD,
                        bool causal, float scale, cudaStream_t stream) {
  switch (ceil_div(HD, 16)) {
    case 1: return launch_tc<T, 16>(qkv, out, cu_seqlens, B, max_seqlen, NH, HD, causal, scale, stream);
    case 2: return launch_tc<T, 32>(qkv, out, cu_seqlens, B, max_seqlen, NH, HD, causal, scale, stream);
    case 3: return launch_tc<T, 48>(qkv, out, cu_seqlens, B, max_seqlen, NH, HD, causal, scale, stream);
    case 4: return launch_tc<T, 64>(qkv, out, cu_seqlens, B, max_seqlen, NH, HD, causal, scale, stream);
    case 5: return launch_tc<T, 80>(qkv, out, cu_seqlens, B, max_seqlen, NH, HD, causal, scale, stream);
    case 6: return launch_tc<T, 96>(qkv, out, cu_seqlens, B, max_seqlen, NH, HD, causal, scale, stream);
    case 7: return launch_tc<T, 112>(qkv, out, cu_seqlens, B, max_seqlen, NH, HD, causal, scale, stream);
    default: return launch_tc<T, 128>(qkv, out, cu_seqlens, B, max_seqlen, NH, HD, causal, scale, stream);
  }
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

Status attention_forward(gpu::DType dt, const void* qkv, void* out, const int* cu_seqlens, int B, int max_seqlen,
                         int NH, int HD, bool causal, cudaStream_t stream) {
  const std::string who = "attention_forward: ";
  if (HD < 8 || HD > kMaxHD || HD % 8 != 0) {
    return Err(CUCLIP_ERR_INVALID_ARGUMENT, who + "head dim " + std::to_string(HD) + " is not a multiple of 8 in [8, 128]");
  }
  if (NH < 1 || NH > 65535) return Err(CUCLIP_ERR_INVALID_ARGUMENT, who + "head count " + std::to_string(NH) + " outside [1, 65535]");
  if (B < 0 || B > 65535) return Err(CUCLIP_ERR_INVALID_ARGUMENT, who + "sequence count " + std::to_string(B) + " outside [0, 65535]");
  if (max_seqlen < 0) return Err(CUCLIP_ERR_INVALID_ARGUMENT, who + "negative max_seqlen");
  if (static_cast<long long>(NH) * HD * 3 > (1LL << 30)) return Err(CUCLIP_ERR_INVALID_ARGUMENT, who + "width NH*HD too large");
  if (dt != gpu::DType::f32 && dt != gpu::DType::f16 && dt != gpu::DType::bf16) {
    return Err(CUCLIP_ERR_INVALID_ARGUMENT, who + "unknown dtype " + std::to_string(static_cast<int>(dt)));
  }
  if (B == 0 || max_seqlen == 0) return Status::Ok();
  if (!qkv || !out || !cu_seqlens) return Err(CUCLIP_ERR_INVALID_ARGUMENT, who + "null qkv, out or cu_seqlens");
  if (!aligned16(qkv) || !aligned16(out)) return Err(CUCLIP_ERR_INVALID_ARGUMENT, who + "qkv and out must be 16-byte aligned");
  const float scale = 1.0f / std::sqrt(static_cast<float>(HD));
  if (dt == gpu::DType::f32) {
    const dim3 grid(ceil_div(max_seqlen, kF32Warps), NH, B);
    return CUCLIP_LAUNCH(attention_f32_kernel, grid, dim3(kF32Warps * kWarpSize), 0, stream,
                         static_cast<const float*>(qkv), static_cast<float*>(out), cu_seqlens, NH, HD, causal, scale);
  }
  if (dt == gpu::DType::f16) return launch_tc_for_hd<__half>(qkv, out, cu_seqlens, B, max_seqlen, NH, HD, causal, scale, stream);
  return launch_tc_for_hd<__nv_bfloat16>(qkv, out, cu_seqlens, B, max_seqlen, NH, HD, causal, scale, stream);
}

}  // namespace cuclip::kernels::inline CUCLIP_BUILD_NS
