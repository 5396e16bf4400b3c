// Device helpers shared by the backend's elementwise and row kernels (layernorm, embed, pool,
// epilogue, attention_ref): loading an activation of the compute dtype as f32 and storing f32 back
// rounded once, and turning the launchers' runtime gpu::DType into a template parameter.
//
// Activations are f32, __half or __nv_bfloat16; every kernel computes in f32 and rounds only when it
// stores, so the three instantiations of one kernel differ only in that final rounding.
#pragma once
#include "kernels/common.cuh"

namespace cuclip::kernels::inline CUCLIP_BUILD_NS {

__device__ __forceinline__ float load_f32(const float* p) { return *p; }
__device__ __forceinline__ float load_f32(const __half* p) { return __half2float(*p); }
__device__ __forceinline__ float load_f32(const __nv_bfloat16* p) { return __bfloat162float(*p); }

__device__ __forceinline__ void store_f32(float* p, float v) { *p = v; }
__device__ __forceinline__ void store_f32(__half* p, float v) { *p = __float2half_rn(v); }
__device__ __forceinline__ void store_f32(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }

// Calls f(T{}) with T the element type of dt; returns f's Status. Unknown values are refused, so a
// corrupted dtype never reaches a kernel.
template <class F>
Status dispatch_dtype(gpu::DType dt, const char* who, F&& f) {
  switch (dt) {
    case gpu::DType::f32: return f(float{});
    case gpu::DType::f16: return f(__half{});
    case gpu::DType::bf16: return f(__nv_bfloat16{});
  }
  return Err(CUCLIP_ERR_INVALID_ARGUMENT, std::string(who) + ": unknown dtype");
}

}  // namespace cuclip::kernels::inline CUCLIP_BUILD_NS
