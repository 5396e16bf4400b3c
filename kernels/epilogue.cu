// What follows a cuBLAS(Lt) GEMM that cuBLASLt cannot fuse: CLIP's activations (QuickGELU, exact
// erf GELU; cuBLASLt's GELU epilogue is the tanh approximation, which matches neither), plus an
// optional bias and residual so one pass serves any GEMM without a fused epilogue. The backend
// uses cuBLASLt's own BIAS epilogue and beta = 1 for the residual where it can, and this kernel
// only for the activation; our own tensor-core GEMM (kernels/gemm.cu) fuses all three instead.
//
// Elementwise over [M, N]: a grid-stride loop, kEpilogueBlocks capping the grid.
#include "kernels/dtype.cuh"
#include "kernels/epilogue.hpp"

namespace cuclip::kernels::inline CUCLIP_BUILD_NS {

constexpr int kEpilogueThreads = 256;
constexpr int kEpilogueBlocks = 4096;  // enough to fill any GPU; the loop covers the rest

// The same formulas as cuclip::cpu's GEMM epilogue.
__device__ __forceinline__ float activate(EpilogueAct act, float v) {
  switch (act) {
    case EpilogueAct::QuickGelu: return v * (1.0f / (1.0f + expf(-1.702f * v)));
    case EpilogueAct::GeluErf: return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
    case EpilogueAct::None: break;
  }
  return v;
}

template <class T>
__global__ void epilogue_kernel(int64_t total, int N, const float* bias, EpilogueAct act, const T* residual, T* C) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float v = load_f32(C + i);
    if (bias) v += bias[i % N];
    v = activate(act, v);
    if (residual) v += load_f32(residual + i);
    store_f32(C + i, v);
  }
}

Status epilogue_forward(gpu::DType dt, int M, int N, const float* bias, EpilogueAct act, const void* residual, void* C,
                        cudaStream_t stream) {
  if (M < 0 || N < 1) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "epilogue_forward: need M >= 0 and N >= 1");
  const int64_t total = static_cast<int64_t>(M) * N;
  if (total == 0) return Status::Ok();
  const int64_t blocks = std::min<int64_t>(ceil_div<int64_t>(total, kEpilogueThreads), kEpilogueBlocks);
  return dispatch_dtype(dt, "epilogue_forward", [&](auto tag) {
    using T = decltype(tag);
    return CUCLIP_LAUNCH(epilogue_kernel<T>, dim3(static_cast<unsigned>(blocks)), dim3(kEpilogueThreads), 0, stream,
                         total, N, bias, act, static_cast<const T*>(residual), static_cast<T*>(C));
  });
}

}  // namespace cuclip::kernels::inline CUCLIP_BUILD_NS
