// LayerNorm over rows of width C, and LayerNorm fused with the residual add that precedes every
// pre-LN block's second half (x += attn_out; y = ln2(x)) and the next block's first (x += mlp_out;
// y = ln1(x)): fused, the residual stream is read once and written once instead of a GEMM epilogue
// writing x and the LayerNorm reading it again.
// Which the forward uses: the residual add in the GEMM's epilogue (cuBLASLt beta = 1, or our GEMM's
// BiasResidual) then layernorm_forward moves [rows, C] four times (epilogue read + write, LayerNorm
// read + write); add_layernorm_forward needs the GEMM to write its output first, five. So the
// backend keeps the epilogue; add_layernorm_forward serves a GEMM without a residual epilogue.
//
// Design: one warp per row, kLnRowsPerBlock rows per block, the row staged in f32 in shared memory
// (kernels/layernorm.cuh). CLIP widths (512..1664) give each lane 16..52 values; a block per row
// would need block-wide reductions (two barriers) for no gain at these widths.
//
// Fast path (layernorm_vec_kernel), f16/bf16 rows of 512, 768, 1024 or 1280 (every CLIP width but
// bigG's 1664): 16-byte loads and stores of 8 values and the row held in registers, no shared
// memory. The staged kernel reached 52-62% of the device-to-device copy bandwidth on an H200 at the
// largest CLIP shapes; this design, measured as the LayerNorm lab's v3, 93-97%
// (benchmarks/results/gpu-h200-2026-11-30/kernels.txt).
#include "kernels/layernorm.cuh"
#include "kernels/layernorm.hpp"

#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__CUDACC__)
#define CUCLIP_LN_UNROLL _Pragma("unroll")
#else
#define CUCLIP_LN_UNROLL
#endif

namespace cuclip::kernels::inline CUCLIP_BUILD_NS {

constexpr int kLnThreads = kLnRowsPerBlock * kWarpSize;

template <class T>
__global__ void layernorm_kernel(int rows, int C, const T* x, const float* w, const float* b, float eps, T* y) {
  const int row = blockIdx.x * kLnRowsPerBlock + static_cast<int>(threadIdx.x) / kWarpSize;
  if (row >= rows) return;  // the whole warp leaves together; there are no block barriers
  const int lane = threadIdx.x % kWarpSize;
  float* staged = dynamic_smem<float>() + static_cast<size_t>(threadIdx.x / kWarpSize) * C;
  const T* xr = x + static_cast<size_t>(row) * C;
  for (int c = lane; c < C; c += kWarpSize) staged[c] = load_f32(xr + c);
  warp_layernorm_store(staged, C, w, b, eps, y + static_cast<size_t>(row) * C);
}

// C = VEC * 256: lane l owns the 8-value chunks l, l + 32, ... of its warp's row.
template <class T, int VEC>
__global__ void layernorm_vec_kernel(int rows, const T* x, const float* w, const float* b, float eps, T* y) {
  constexpr int C = VEC * 256;
  const int row = blockIdx.x * kLnRowsPerBlock + static_cast<int>(threadIdx.x) / kWarpSize;
  if (row >= rows) return;
  const int lane = threadIdx.x % kWarpSize;
  const uint4* xr = reinterpret_cast<const uint4*>(x + static_cast<size_t>(row) * C);
  float v[VEC][8];
  float sum = 0.0f;
CUCLIP_LN_UNROLL
  for (int i = 0; i < VEC; ++i) {
    const uint4 raw = xr[i * kWarpSize + lane];
    T h[8];
    memcpy(h, &raw, sizeof raw);
CUCLIP_LN_UNROLL
    for (int j = 0; j < 8; ++j) {
      v[i][j] = load_f32(&h[j]);
      sum += v[i][j];
    }
  }
  const float mean = warp_allreduce_sum(sum) / static_cast<float>(C);
  float sq = 0.0f;
CUCLIP_LN_UNROLL
  for (int i = 0; i < VEC; ++i)
CUCLIP_LN_UNROLL
    for (int j = 0; j < 8; ++j) {
      const float d = v[i][j] - mean;
      sq += d * d;
    }
  const float rstd = rsqrtf(warp_allreduce_sum(sq) / static_cast<float>(C) + eps);
  uint4* yr = reinterpret_cast<uint4*>(y + static_cast<size_t>(row) * C);
CUCLIP_LN_UNROLL
  for (int i = 0; i < VEC; ++i) {
    const int c0 = (i * kWarpSize + lane) * 8;
    T h[8];
CUCLIP_LN_UNROLL
    for (int j = 0; j < 8; ++j) {
      float t = (v[i][j] - mean) * rstd;
      if (w) t *= w[c0 + j];
      if (b) t += b[c0 + j];
      store_f32(&h[j], t);
    }
    uint4 raw;
    memcpy(&raw, h, sizeof raw);
    yr[i * kWarpSize + lane] = raw;
  }
}

template <class T>
__global__ void add_layernorm_kernel(int rows, int C, T* x, const T* delta, const float* delta_bias, const float* w,
                                     const float* b, float eps, T* y) {
  const int row = blockIdx.x * kLnRowsPerBlock + static_cast<int>(threadIdx.x) / kWarpSize;
  if (row >= rows) return;
  const int lane = threadIdx.x % kWarpSize;
  float* staged = dynamic_smem<float>() + static_cast<size_t>(threadIdx.x / kWarpSize) * C;
  T* xr = x + static_cast<size_t>(row) * C;
  const T* dr = delta + static_cast<size_t>(row) * C;
  for (int c = lane; c < C; c += kWarpSize) {
    float v = load_f32(xr + c) + load_f32(dr + c);
    if (delta_bias) v += delta_bias[c];
    store_f32(xr + c, v);
    staged[c] = round_as<T>(v);
  }
  warp_layernorm_store(staged, C, w, b, eps, y + static_cast<size_t>(row) * C);
}

namespace {
Status check_ln_shape(const char* who, int rows, int C) {
  if (rows < 0 || C < 1 || C > kLnMaxWidth)
    return Err(CUCLIP_ERR_INVALID_ARGUMENT, std::string(who) + ": rows must be >= 0 and C in [1, " +
                                                std::to_string(kLnMaxWidth) + "], got rows " + std::to_string(rows) +
                                                ", C " + std::to_string(C));
  return Status::Ok();
}
size_t ln_smem_bytes(int C) { return static_cast<size_t>(kLnRowsPerBlock) * C * sizeof(float); }
}  // namespace

Status layernorm_forward(gpu::DType dt, int rows, int C, const void* x, const float* w, const float* b, float eps,
                         void* y, cudaStream_t stream) {
  CUCLIP_TRY(check_ln_shape("layernorm_forward", rows, C));
  if (rows == 0) return Status::Ok();
  const dim3 grid(ceil_div(rows, kLnRowsPerBlock));
  const bool aligned = (reinterpret_cast<uintptr_t>(x) | reinterpret_cast<uintptr_t>(y)) % 16 == 0;
  const int vec = C % 256 == 0 ? C / 256 : 0;
  if (dt != gpu::DType::f32 && aligned && vec >= 2 && vec <= 5) {
    return dispatch_dtype(dt, "layernorm_forward", [&](auto tag) -> Status {
      using T = decltype(tag);
      if constexpr (std::is_same_v<T, float>) {
        return Err(CUCLIP_ERR_INTERNAL, "layernorm_forward: no vectorized f32 kernel");
      } else {
        auto run = [&](auto kernel) {
          return kernels::launch("layernorm_vec_kernel", kernel, grid, dim3(kLnThreads), 0, stream, rows,
                        static_cast<const T*>(x), w, b, eps, static_cast<T*>(y));
        };
        switch (vec) {
          case 2: return run(layernorm_vec_kernel<T, 2>);
          case 3: return run(layernorm_vec_kernel<T, 3>);
          case 4: return run(layernorm_vec_kernel<T, 4>);
          default: return run(layernorm_vec_kernel<T, 5>);
        }
      }
    });
  }
  return dispatch_dtype(dt, "layernorm_forward", [&](auto tag) {
    using T = decltype(tag);
    return CUCLIP_LAUNCH(layernorm_kernel<T>, grid, dim3(kLnThreads), ln_smem_bytes(C), stream, rows, C,
                         static_cast<const T*>(x), w, b, eps, static_cast<T*>(y));
  });
}

Status add_layernorm_forward(gpu::DType dt, int rows, int C, void* x, const void* delta, const float* delta_bias,
                             const float* w, const float* b, float eps, void* y, cudaStream_t stream) {
  CUCLIP_TRY(check_ln_shape("add_layernorm_forward", rows, C));
  if (rows == 0) return Status::Ok();
  const dim3 grid(ceil_div(rows, kLnRowsPerBlock));
  return dispatch_dtype(dt, "add_layernorm_forward", [&](auto tag) {
    using T = decltype(tag);
    return CUCLIP_LAUNCH(add_layernorm_kernel<T>, grid, dim3(kLnThreads), ln_smem_bytes(C), stream, rows, C,
                         static_cast<T*>(x), static_cast<const T*>(delta), delta_bias, w, b, eps, static_cast<T*>(y));
  });
}

}  // namespace cuclip::kernels::inline CUCLIP_BUILD_NS
