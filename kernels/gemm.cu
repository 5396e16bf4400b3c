// C[M, N] = epilogue(A[M, K] . W[N, K]^T): every linear layer of CLIP (W in PyTorch's [out, in]
// layout), with the epilogues cuBLASLt does not offer fused: bias + QuickGELU, bias + exact GELU
// (erff), bias + residual add (in place). One kernel, one read of A and W, one write of C: the
// activation or residual costs no extra pass over the [M, N] output.
//
// f16 / bf16 (gemm_tc_kernel): a tiled tensor-core GEMM in the sm_80 style, which Hopper runs
// unchanged (wgmma/TMA would be faster still, see docs/kernels.md "## GEMM"):
//   * a CTA computes a BM x BN tile of C, its warps WM x WN sub-tiles of 16x8 mma.sync accumulators
//     (f32), marching over K in BK = 32 slices;
//   * the slices of A and W stream global -> shared through cp.async in a kStages-deep ring, so the
//     loads of slice k + kStages - 1 overlap the math on slice k;
//   * both operands are K-contiguous ("row.col" mma), so A and B fragments are plain (non-transposed)
//     ldmatrix.x4 loads; shared-memory rows are 64 bytes, and XOR-swizzling the four 16-byte chunks
//     of a row with (row / 2) % 4 spreads any 8 consecutive rows of one chunk column over all 32
//     banks (conflict-free ldmatrix and cp.async stores, no padding bytes);
//   * ragged edges: rows past M or N and chunks past K are zero-filled by cp.async (src_bytes 0), so
//     the math needs no predicates; K must be a multiple of 8 so that a 16-byte chunk is all in or
//     all out. The epilogue writes only in-range elements.
// Two tile shapes: 128x128 (8 warps of 64x32) for large problems, 64x64 (4 warps of 32x32) when
// the large tiles would leave most of the GPU's SMs idle (small batches).
// The A operand comes from a producer (RowMajorA: cp.async from a matrix; PatchA: the patch
// embedding's implicit im2col, built in shared memory from the uint8 images, so the [B*N, 3*P*P]
// column matrix never exists in global memory).
// Version history: v1 (this file) the above; earlier CUDA-core versions live in
// benchmarks/kernels/gemm_lab.cu.
//
// f32 (gemm_f32_kernel): a plain shared-memory tiled kernel on CUDA cores (64x64 tile, 4x4 outputs
// per thread), there for the f32 compute mode and as a readable reference; any K.
#include "kernels/common.cuh"
#include "kernels/gemm.hpp"

#include <cmath>
#include <cstring>
#include <string>

#if defined(__CUDACC__)
#define CUCLIP_GEMM_UNROLL _Pragma("unroll")
#else
#define CUCLIP_GEMM_UNROLL
#endif

namespace cuclip::kernels::inline CUCLIP_BUILD_NS {
namespace {

// --- configuration --------------------------------------------------------------------------------
constexpr int kGemmBK = 32;       // K slice per pipeline stage: 64-byte smem rows, 2 mma k-steps
constexpr int kGemmStages = 4;    // cp.async ring depth: 3 slices in flight while one is consumed
constexpr int kChunksPerRow = kGemmBK / 8;  // 16-byte chunks of one smem row
constexpr int kH200Sms = 132;     // below this many large tiles the small tile shape is used

template <int BM_, int BN_, int WM_, int WN_>
struct TileShape {
  static constexpr int BM = BM_, BN = BN_, WM = WM_, WN = WN_;
  static constexpr int kWarpsM = BM / WM, kWarpsN = BN / WN;
  static constexpr int kThreads = kWarpsM * kWarpsN * kWarpSize;
  static constexpr int kMTiles = WM / 16, kNTiles = WN / 8;  // mma tiles per warp
  static constexpr int kStageBytes = (BM + BN) * kGemmBK * 2;
  static constexpr int kSmemBytes = kGemmStages * kStageBytes;
  static_assert(WM % 16 == 0 && WN % 16 == 0, "warp tiles are made of 16x16 fragment pairs");
};
using LargeTile = TileShape<128, 128, 64, 32>;  // 8 warps, 64 KiB of shared memory
using SmallTile = TileShape<64, 64, 32, 32>;    // 4 warps, 32 KiB

// --- per-dtype pieces -------------------------------------------------------------------------------
template <class T>
struct Tc;
template <>
struct Tc<__half> {
  static __device__ __forceinline__ void mma(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
    mma_m16n8k16_f16f32(d, a, b, d);
  }
  static __device__ __forceinline__ float load(const __half* p) { return __half2float(*p); }
  static __device__ __forceinline__ __half round(float x) { return __float2half_rn(x); }
  static __device__ __forceinline__ void store2(__half* p, float lo, float hi) {
    *reinterpret_cast<__half2*>(p) = __floats2half2_rn(lo, hi);
  }
};
template <>
struct Tc<__nv_bfloat16> {
  static __device__ __forceinline__ void mma(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
    mma_m16n8k16_bf16f32(d, a, b, d);
  }
  static __device__ __forceinline__ float load(const __nv_bfloat16* p) { return __bfloat162float(*p); }
  static __device__ __forceinline__ __nv_bfloat16 round(float x) { return __float2bfloat16_rn(x); }
  static __device__ __forceinline__ void store2(__nv_bfloat16* p, float lo, float hi) {
    *reinterpret_cast<__nv_bfloat162*>(p) = __floats2bfloat162_rn(lo, hi);
  }
};
template <>
struct Tc<float> {
  static __device__ __forceinline__ float load(const float* p) { return *p; }
  static __device__ __forceinline__ float round(float x) { return x; }
};

// The epilogue on one f32 value of column n (row-major index i of C and the residual), before the
// single rounding to dt.
template <class T>
__device__ __forceinline__ float apply_epilogue(float acc, Epilogue epi, const float* bias, const T* residual, int n,
                                                size_t i) {
  if (epi == Epilogue::None) return acc;
  float v = acc + bias[n];
  if (epi == Epilogue::BiasQuickGelu) {
    v = v / (1.0f + expf(-1.702f * v));
  } else if (epi == Epilogue::BiasGeluErf) {
    v = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
  } else if (epi == Epilogue::BiasResidual) {
    v += Tc<T>::load(residual + i);
  }
  return v;
}

// Byte offset of 16-byte chunk `chunk` of smem row `row` in a [rows][kGemmBK] b16 tile (swizzled).
__device__ __forceinline__ int swizzled(int row, int chunk) {
  return (row * kChunksPerRow + (chunk ^ ((row >> 1) & (kChunksPerRow - 1)))) * 16;
}

// Issues the cp.async copies of rows [r0, r0 + ROWS) x K-slice [k0, k0 + kGemmBK) of a row-major
// [rows, K] b16 matrix into a swizzled smem tile; rows >= rows_total and chunks >= K are zero-filled
// (the source pointer then stays at the matrix start, so no address outside it is ever formed).
template <int ROWS, int THREADS>
__device__ __forceinline__ void load_slice(unsigned char* tile, const uint16_t* g, int rows_total, int K, int r0,
                                           int k0) {
  for (int i = threadIdx.x; i < ROWS * kChunksPerRow; i += THREADS) {
    const int row = i / kChunksPerRow, chunk = i % kChunksPerRow;
    const int gr = r0 + row, gk = k0 + chunk * 8;
    const bool in = gr < rows_total && gk < K;
    const uint16_t* src = in ? g + static_cast<size_t>(gr) * K + gk : g;
    cp_async_16(tile + swizzled(row, chunk), src, in ? 16 : 0);
  }
}

// The A operand's producers: load<ROWS, THREADS>(tile, r0, k0) fills the swizzled smem tile of rows
// [r0, r0 + ROWS) x K-slice [k0, k0 + kGemmBK), zeros outside [M, K).
// A row-major [M, K] matrix in global memory, streamed by cp.async (joins the commit groups).
struct RowMajorA {
  const uint16_t* bits;
  int M, K;
  template <int ROWS, int THREADS>
  __device__ __forceinline__ void load(unsigned char* tile, int r0, int k0) const {
    load_slice<ROWS, THREADS>(tile, bits, M, K, r0, k0);
  }
};

template <class T>
__device__ __forceinline__ uint32_t pack2(T lo, T hi) {
  uint16_t a, b;
  memcpy(&a, &lo, 2);
  memcpy(&b, &hi, 2);
  return static_cast<uint32_t>(a) | static_cast<uint32_t>(b) << 16;
}

// Implicit im2col: the rows of im2col_u8_kernel (embed.cu) built straight in shared memory from the
// uint8 images rgb[B, S, S, 3] and the normalization table lut[3 * 256], rounded to T exactly as
// that kernel stores them. Row b*G*G + py*G + px, column c*P*P + y*P + x; with P a multiple of 8, a
// 16-byte chunk (8 columns) is 8 neighbouring pixels of one image row and channel. Plain loads and
// 16-byte shared stores (the bytes are strided by 3 and need the table, so no cp.async); they land
// in a stage no warp reads until a later barrier, as the cp.async copies do.
template <class T>
struct PatchA {
  const uint8_t* rgb;
  const float* lut;
  int S, P, G, M, K;
  template <int ROWS, int THREADS>
  __device__ __forceinline__ void load(unsigned char* tile, int r0, int k0) const {
    const int PP = P * P, N = G * G;
    for (int i = threadIdx.x; i < ROWS * kChunksPerRow; i += THREADS) {
      const int row = i / kChunksPerRow, chunk = i % kChunksPerRow;
      const int gr = r0 + row, gk = k0 + chunk * 8;
      uint32_t w[4] = {0, 0, 0, 0};
      if (gr < M && gk < K) {
        const int b = gr / N, py = (gr % N) / G, px = gr % G;
        const int c = gk / PP, y = (gk % PP) / P, x = gk % P;
        const uint8_t* src = rgb + ((static_cast<size_t>(b) * S + py * P + y) * S + px * P + x) * 3 + c;
        const float* t = lut + c * 256;
        CUCLIP_GEMM_UNROLL
        for (int e = 0; e < 4; ++e) w[e] = pack2(Tc<T>::round(t[src[6 * e]]), Tc<T>::round(t[src[6 * e + 3]]));
      }
      *reinterpret_cast<uint4*>(tile + swizzled(row, chunk)) = make_uint4(w[0], w[1], w[2], w[3]);
    }
  }
};

template <class T, class S, class ALoader>
__global__ void __launch_bounds__(S::kThreads)
    gemm_tc_kernel(int M, int N, int K, ALoader a_loader, const T* W, const float* bias, Epilogue epi,
                   const T* residual, T* C) {
  unsigned char* smem = dynamic_smem<unsigned char>();
  const uint16_t* w_bits = reinterpret_cast<const uint16_t*>(W);
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int m0 = blockIdx.y * S::BM, n0 = blockIdx.x * S::BN;
  const int wm0 = (warp / S::kWarpsN) * S::WM, wn0 = (warp % S::kWarpsN) * S::WN;
  const int k_slices = ceil_div(K, kGemmBK);

  auto a_tile = [&](int stage) { return smem + stage * S::kStageBytes; };
  auto w_tile = [&](int stage) { return smem + stage * S::kStageBytes + S::BM * kGemmBK * 2; };
  auto load_stage = [&](int slice) {
    const int stage = slice % kGemmStages;
    a_loader.template load<S::BM, S::kThreads>(a_tile(stage), m0, slice * kGemmBK);
    load_slice<S::BN, S::kThreads>(w_tile(stage), w_bits, N, K, n0, slice * kGemmBK);
  };

  float acc[S::kMTiles][S::kNTiles][4];
  CUCLIP_GEMM_UNROLL
  for (int mt = 0; mt < S::kMTiles; ++mt)
    CUCLIP_GEMM_UNROLL
    for (int nt = 0; nt < S::kNTiles; ++nt)
      CUCLIP_GEMM_UNROLL
      for (int i = 0; i < 4; ++i) acc[mt][nt][i] = 0.0f;

  // Prologue: the first kStages - 1 slices in flight. Every iteration commits a group (possibly
  // empty) so that "wait until kStages - 2 groups remain" always means "slice s has landed".
  for (int s = 0; s < kGemmStages - 1; ++s) {
    if (s < k_slices) load_stage(s);
    cp_async_commit();
  }

  for (int s = 0; s < k_slices; ++s) {
    cp_async_wait<kGemmStages - 2>();
    // Makes slice s visible to every warp, and guarantees every warp is done with slice s - 1,
    // whose stage the prefetch below overwrites.
    __syncthreads();
    if (s + kGemmStages - 1 < k_slices) load_stage(s + kGemmStages - 1);
    cp_async_commit();

    const unsigned char* at = a_tile(s % kGemmStages);
    const unsigned char* wt = w_tile(s % kGemmStages);
    CUCLIP_GEMM_UNROLL
    for (int ks = 0; ks < kGemmBK / 16; ++ks) {
      uint32_t af[S::kMTiles][4], bf[S::kNTiles][2];
      CUCLIP_GEMM_UNROLL
      for (int mt = 0; mt < S::kMTiles; ++mt) {
        // Matrices 0..3 = (rows 0-7, k 0-7), (rows 8-15, k 0-7), (rows 0-7, k 8-15), (rows 8-15, k 8-15):
        // exactly a[0..3] of the m16n8k16 A fragment.
        ldmatrix_x4(af[mt], at + swizzled(wm0 + mt * 16 + lane % 16, ks * 2 + lane / 16));
      }
      CUCLIP_GEMM_UNROLL
      for (int np = 0; np < S::kNTiles / 2; ++np) {
        // Two n8 tiles per x4: matrices (n 0-7, k 0-7), (n 0-7, k 8-15), (n 8-15, k 0-7), (n 8-15, k 8-15);
        // a W row is a B column, so non-transposed rows give b[0], b[1] of each tile.
        const int j = lane / 8;
        uint32_t r[4];
        ldmatrix_x4(r, wt + swizzled(wn0 + np * 16 + (j / 2) * 8 + lane % 8, ks * 2 + j % 2));
        bf[2 * np][0] = r[0];
        bf[2 * np][1] = r[1];
        bf[2 * np + 1][0] = r[2];
        bf[2 * np + 1][1] = r[3];
      }
      CUCLIP_GEMM_UNROLL
      for (int mt = 0; mt < S::kMTiles; ++mt)
        CUCLIP_GEMM_UNROLL
        for (int nt = 0; nt < S::kNTiles; ++nt) Tc<T>::mma(acc[mt][nt], af[mt], bf[nt]);
    }
  }
  cp_async_wait<0>();  // only empty groups can remain; retire them before the thread ends

  // Epilogue straight from the accumulators: lane (g, t) holds C[g][2t..2t+1] and C[g+8][2t..2t+1]
  // of each 16x8 tile.
  const int g = lane / 4, t = lane % 4;
  // Pairs (n, n + 1) go out as one 4-byte store when every pair starts 4-byte aligned.
  const bool even_n = N % 2 == 0 && reinterpret_cast<uintptr_t>(C) % 4 == 0;
  CUCLIP_GEMM_UNROLL
  for (int mt = 0; mt < S::kMTiles; ++mt) {
    CUCLIP_GEMM_UNROLL
    for (int half = 0; half < 2; ++half) {
      const int m = m0 + wm0 + mt * 16 + g + half * 8;
      if (m >= M) continue;
      CUCLIP_GEMM_UNROLL
      for (int nt = 0; nt < S::kNTiles; ++nt) {
        const int n = n0 + wn0 + nt * 8 + 2 * t;
        const size_t i = static_cast<size_t>(m) * N + n;
        if (n + 1 < N) {
          const float v0 = apply_epilogue<T>(acc[mt][nt][2 * half], epi, bias, residual, n, i);
          const float v1 = apply_epilogue<T>(acc[mt][nt][2 * half + 1], epi, bias, residual, n + 1, i + 1);
          if (even_n) {
            Tc<T>::store2(C + i, v0, v1);  // i is even: a 4-byte aligned pair
          } else {
            C[i] = Tc<T>::round(v0);
            C[i + 1] = Tc<T>::round(v1);
          }
        } else if (n < N) {
          C[i] = Tc<T>::round(apply_epilogue<T>(acc[mt][nt][2 * half], epi, bias, residual, n, i));
        }
      }
    }
  }
}

// --- f32: CUDA cores ------------------------------------------------------------------------------
constexpr int kF32Tile = 64, kF32TileK = 16, kF32Threads = 256, kF32PerThread = 4;  // 16x16 threads x 4x4

__global__ void __launch_bounds__(kF32Threads)
    gemm_f32_kernel(int M, int N, int K, const float* A, const float* W, const float* bias, Epilogue epi,
                    const float* residual, float* C) {
  // K-major tiles: in the inner loop thread (tx, ty) reads 4 consecutive rows of A and of W.
  __shared__ float as[kF32TileK][kF32Tile + 4];
  __shared__ float ws[kF32TileK][kF32Tile + 4];
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const int m0 = blockIdx.y * kF32Tile, n0 = blockIdx.x * kF32Tile;
  float acc[kF32PerThread][kF32PerThread] = {};
  for (int k0 = 0; k0 < K; k0 += kF32TileK) {
    for (int i = threadIdx.x; i < kF32Tile * kF32TileK; i += kF32Threads) {
      const int r = i / kF32TileK, kk = i % kF32TileK, k = k0 + kk;
      as[kk][r] = (m0 + r < M && k < K) ? A[static_cast<size_t>(m0 + r) * K + k] : 0.0f;
      ws[kk][r] = (n0 + r < N && k < K) ? W[static_cast<size_t>(n0 + r) * K + k] : 0.0f;
    }
    __syncthreads();
    for (int kk = 0; kk < kF32TileK; ++kk) {
      float a[kF32PerThread], w[kF32PerThread];
      for (int i = 0; i < kF32PerThread; ++i) {
        a[i] = as[kk][ty * kF32PerThread + i];
        w[i] = ws[kk][tx * kF32PerThread + i];
      }
      for (int i = 0; i < kF32PerThread; ++i)
        for (int j = 0; j < kF32PerThread; ++j) acc[i][j] = fmaf(a[i], w[j], acc[i][j]);
    }
    __syncthreads();
  }
  for (int i = 0; i < kF32PerThread; ++i) {
    const int m = m0 + ty * kF32PerThread + i;
    for (int j = 0; j < kF32PerThread; ++j) {
      const int n = n0 + tx * kF32PerThread + j;
      if (m < M && n < N) {
        const size_t idx = static_cast<size_t>(m) * N + n;
        C[idx] = apply_epilogue<float>(acc[i][j], epi, bias, residual, n, idx);
      }
    }
  }
}

// --- launchers ------------------------------------------------------------------------------------
template <class T, class S, class ALoader>
Status launch_tc(int M, int N, int K, const ALoader& a, const void* W, const float* bias, Epilogue epi,
                 const void* residual, void* C, cudaStream_t stream) {
  auto kernel = gemm_tc_kernel<T, S, ALoader>;
  if (S::kSmemBytes > 48 * 1024) {
    const cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, S::kSmemBytes);
    if (e != cudaSuccess) {
      return Err(CUCLIP_ERR_DEVICE, std::string("gemm_forward: cudaFuncSetAttribute(") +
                                        std::to_string(S::kSmemBytes) + " bytes of shared memory): " +
                                        cudaGetErrorString(e));
    }
  }
  const dim3 grid(ceil_div(N, S::BN), ceil_div(M, S::BM));
  return CUCLIP_LAUNCH(kernel, grid, dim3(S::kThreads), S::kSmemBytes, stream, M, N, K, a, static_cast<const T*>(W),
                       bias, epi, static_cast<const T*>(residual), static_cast<T*>(C));
}

template <class T, class ALoader>
Status launch_tc_for_shape(int M, int N, int K, const ALoader& a, const void* W, const float* bias, Epilogue epi,
                           const void* residual, void* C, cudaStream_t stream) {
  const long large_tiles = static_cast<long>(ceil_div(M, LargeTile::BM)) * ceil_div(N, LargeTile::BN);
  if (large_tiles < kH200Sms) return launch_tc<T, SmallTile>(M, N, K, a, W, bias, epi, residual, C, stream);
  return launch_tc<T, LargeTile>(M, N, K, a, W, bias, epi, residual, C, stream);
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

Status gemm_forward(gpu::DType dt, int M, int N, int K, const void* A, const void* W, const float* bias, Epilogue epi,
                    const void* residual, void* C, cudaStream_t stream) {
  const char* who = "gemm_forward: ";
  if (M < 0 || N < 0 || K < 1) {
    return Err(CUCLIP_ERR_INVALID_ARGUMENT, std::string(who) + "bad shape M=" + std::to_string(M) + " N=" +
                                                std::to_string(N) + " K=" + std::to_string(K) + " (need M, N >= 0, K >= 1)");
  }
  if (epi != Epilogue::None && epi != Epilogue::Bias && epi != Epilogue::BiasQuickGelu &&
      epi != Epilogue::BiasGeluErf && epi != Epilogue::BiasResidual) {
    return Err(CUCLIP_ERR_INVALID_ARGUMENT, std::string(who) + "unknown epilogue " + std::to_string(static_cast<int>(epi)));
  }
  if (M == 0 || N == 0) return Status::Ok();
  if (!A || !W || !C) return Err(CUCLIP_ERR_INVALID_ARGUMENT, std::string(who) + "null A, W or C");
  if (epi != Epilogue::None && !bias) return Err(CUCLIP_ERR_INVALID_ARGUMENT, std::string(who) + "the epilogue needs a bias");
  if (epi == Epilogue::BiasResidual && !residual) {
    return Err(CUCLIP_ERR_INVALID_ARGUMENT, std::string(who) + "BiasResidual needs a residual");
  }
  if (ceil_div(M, SmallTile::BM) > 65535) {
    return Err(CUCLIP_ERR_INVALID_ARGUMENT, std::string(who) + "M=" + std::to_string(M) + " exceeds the grid's row-tile limit");
  }
  if (dt == gpu::DType::f32) {
    const dim3 grid(ceil_div(N, kF32Tile), ceil_div(M, kF32Tile));
    return CUCLIP_LAUNCH(gemm_f32_kernel, grid, dim3(kF32Threads), 0, stream, M, N, K, static_cast<const float*>(A),
                         static_cast<const float*>(W), bias, epi, static_cast<const float*>(residual),
                         static_cast<float*>(C));
  }
  if (dt != gpu::DType::f16 && dt != gpu::DType::bf16) {
    return Err(CUCLIP_ERR_INVALID_ARGUMENT, std::string(who) + "unknown dtype " + std::to_string(static_cast<int>(dt)));
  }
  if (K % 8 != 0) {
    return Err(CUCLIP_ERR_INVALID_ARGUMENT,
               std::string(who) + "K=" + std::to_string(K) + " is not a multiple of 8 (f16/bf16 rows load in 16-byte pieces)");
  }
  if (!aligned16(A) || !aligned16(W)) return Err(CUCLIP_ERR_INVALID_ARGUMENT, std::string(who) + "A and W must be 16-byte aligned");
  const RowMajorA a{static_cast<const uint16_t*>(A), M, K};
  if (dt == gpu::DType::f16) return launch_tc_for_shape<__half>(M, N, K, a, W, bias, epi, residual, C, stream);
  return launch_tc_for_shape<__nv_bfloat16>(M, N, K, a, W, bias, epi, residual, C, stream);
}

Status patch_embed_gemm_forward(gpu::DType dt, int B, int S, int P, const uint8_t* rgb, const float* lut, int N,
                                const void* W, void* C, cudaStream_t stream) {
  const char* who = "patch_embed_gemm_forward: ";
  if (B < 0 || P < 1 || S < P || N < 0)
    return Err(CUCLIP_ERR_INVALID_ARGUMENT, std::string(who) + "need B, N >= 0 and 1 <= P <= S, got B " + std::to_string(B) +
                                                ", S " + std::to_string(S) + ", P " + std::to_string(P) + ", N " + std::to_string(N));
  if (dt != gpu::DType::f16 && dt != gpu::DType::bf16)
    return Err(CUCLIP_ERR_UNSUPPORTED, std::string(who) + "tensor cores only (f16, bf16)");
  if (P % 8 != 0)
    return Err(CUCLIP_ERR_UNSUPPORTED, std::string(who) + "patch " + std::to_string(P) + " is not a multiple of 8");
  const int G = S / P;
  const long long rows = static_cast<long long>(B) * G * G;
  if (rows > (1LL << 31) - 1 || ceil_div<long long>(rows, SmallTile::BM) > 65535)
    return Err(CUCLIP_ERR_INVALID_ARGUMENT, std::string(who) + "too many patch rows for one launch");
  const int M = static_cast<int>(rows), K = 3 * P * P;
  if (M == 0 || N == 0) return Status::Ok();
  if (!rgb || !lut || !W || !C) return Err(CUCLIP_ERR_INVALID_ARGUMENT, std::string(who) + "null rgb, lut, W or C");
  if (!aligned16(W)) return Err(CUCLIP_ERR_INVALID_ARGUMENT, std::string(who) + "W must be 16-byte aligned");
  if (dt == gpu::DType::f16)
    return launch_tc_for_shape<__half>(M, N, K, PatchA<__half>{rgb, lut, S, P, G, M, K}, W, nullptr, Epilogue::None,
                                       nullptr, C, stream);
  return launch_tc_for_shape<__nv_bfloat16>(M, N, K, PatchA<__nv_bfloat16>{rgb, lut, S, P, G, M, K}, W, nullptr,
                                            Epilogue::None, nullptr, C, stream);
}

}  // namespace cuclip::kernels::inline CUCLIP_BUILD_NS
