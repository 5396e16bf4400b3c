// LayerNorm over rows of width C, and LayerNorm fused with the residual add that precedes every
// pre-LN block's second half (x += attn_out; y = ln2(x)) and the next block's first (x += mlp_out;
// y = ln1(x)): fused, the residual stream is read once and written once instead of a GEMM epilogue
// writing x and the LayerNorm reading it again.
//
// Design: one warp per row, kLnRowsPerBlock rows per block, the row staged in f32 in shared memory
// (kernels/layernorm.cuh). CLIP widths (512..1664) give each lane 16..52 values; a block per row
// would need block-wide reductions (two barriers) for no gain at these widths.
#include "kernels/layernorm.cuh"
#include "kernels/layernorm.hpp"

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
