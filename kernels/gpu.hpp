// cuclip::gpu: the device runtime API that the CUDA backend's host code calls, in both builds.
//
//   CUDA build (CUCLIP_EMU undefined): gpu_cuda.cpp, on the CUDA runtime, cuBLAS and cuBLASLt.
//   Emulated build (CUCLIP_EMU defined by the cuclip_emu target): kernels/emu/runtime.cpp and
//   blas.cpp, on the CPU emulator (docs/emulation.md).
//
// The backend is compiled once per build against this header and never calls cuda*/cublas*
// directly, so one source serves the GPU and CI. Every declaration sits in an inline namespace named
// after the build (cuda_build / emu_build): sources spell cuclip::gpu::device_alloc either way, while
// the two builds' symbols differ and can live in one binary.
//
// Every call returns a Status (CUCLIP_ERR_DEVICE or CUCLIP_ERR_OUT_OF_MEMORY with a message naming
// the call); none of them throws, prints or aborts. Streams order work as CUDA streams do;
// errors of asynchronous work may surface at the next synchronize.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/status.hpp"

#if defined(CUCLIP_EMU)
#include "kernels/emu/cuda_types.hpp"
#define CUCLIP_BUILD_NS emu_build
#else
#include <cuda_runtime.h>
#define CUCLIP_BUILD_NS cuda_build
#endif

namespace cuclip::gpu::inline CUCLIP_BUILD_NS {

using Stream = cudaStream_t;  // nullptr = the default stream
using Event = cudaEvent_t;
struct GraphState;
using Graph = GraphState*;  // an instantiated, replayable graph
struct BlasState;
using Blas = BlasState*;

// --- device -------------------------------------------------------------------------------------
struct DeviceInfo {
  std::string name;                 // "cuclip emulator" in the emulated build
  int sm_major = 0, sm_minor = 0;   // compute capability (the emulator reports 9.0)
  int sm_count = 0;
  size_t smem_per_block = 0;        // shared memory a block gets without opting in (bytes)
  size_t smem_per_block_optin = 0;  // the most after cudaFuncSetAttribute(MaxDynamicSharedMemorySize)
  size_t global_mem_bytes = 0;
  bool emulated = false;
};
int device_count();  // 0 when there is no usable device (CUDA build without a GPU)
// Makes device `index` current on the calling thread (cudaSetDevice): every later call of this
// thread runs there. The emulator has CUCLIP_EMU_DEVICES devices (default 1, at most 16), all the
// same CPU: enough to test the plumbing of several devices.
Status set_device(int index);
Status device_info(DeviceInfo* out);
Status device_synchronize();

// --- memory -------------------------------------------------------------------------------------
// Device allocations are at least 16-byte aligned (256 on the GPU). In the emulator each one sits
// against a guard page so kernels reading or writing past it fail with the kernel's name.
Status device_alloc(void** out, size_t bytes);
Status device_free(void* ptr);  // nullptr is fine
template <class T>
Status device_alloc(T** out, size_t count) {
  if (count > SIZE_MAX / sizeof(T)) return Err(CUCLIP_ERR_OUT_OF_MEMORY, "device_alloc: element count overflows");
  void* p = nullptr;
  Status s = device_alloc(&p, count * sizeof(T));
  *out = static_cast<T*>(p);
  return s;
}
Status host_alloc_pinned(void** out, size_t bytes);  // page-locked host memory for async copies
Status host_free_pinned(void* ptr);

Status memcpy_h2d(void* dst, const void* src, size_t bytes, Stream stream);
Status memcpy_d2h(void* dst, const void* src, size_t bytes, Stream stream);
Status memcpy_d2d(void* dst, const void* src, size_t bytes, Stream stream);
Status memset(void* dst, int byte_value, size_t bytes, Stream stream);

// --- streams, events, graphs --------------------------------------------------------------------
Status stream_create(Stream* out);
Status stream_destroy(Stream stream);
Status stream_synchronize(Stream stream);
Status stream_wait_event(Stream stream, Event event);

Status event_create(Event* out);
Status event_destroy(Event event);
Status event_record(Event event, Stream stream);
Status event_synchronize(Event event);
Status event_elapsed_ms(Event start, Event end, float* ms);  // both recorded and complete

// Stream capture: between begin and end, work enqueued on the stream is recorded, not run.
// end_capture instantiates it; graph_launch replays it on a stream.
Status begin_capture(Stream stream);
Status end_capture(Stream stream, Graph* out);
Status graph_launch(Graph graph, Stream stream);
Status graph_destroy(Graph graph);

// --- BLAS ---------------------------------------------------------------------------------------
// cuBLAS conventions: column-major matrices, op(A) is m x k, op(B) is k x n, C is m x n;
// lda/ldb/ldc in elements; batch i uses a + i*stride_a (elements) and likewise for b and c.
//   C = alpha * op(A) * op(B) + beta * C, then the epilogue:
//   bias: C[i, j] += bias[i]  (bias has m elements of c_type, as cublasLt's BIAS epilogue)
// Compute is f32 for every input type; C is rounded to c_type once at the end.
enum class DType : int { f32 = 0, f16 = 1, bf16 = 2 };
enum class Op : int { N = 0, T = 1 };
enum class Epilogue : int { none = 0, bias = 1 };

struct GemmDesc {
  Op trans_a = Op::N, trans_b = Op::N;
  int m = 0, n = 0, k = 0;
  float alpha = 1.0f, beta = 0.0f;
  const void* a = nullptr;
  DType a_type = DType::f32;
  int64_t lda = 0, stride_a = 0;
  const void* b = nullptr;
  DType b_type = DType::f32;
  int64_t ldb = 0, stride_b = 0;
  void* c = nullptr;
  DType c_type = DType::f32;
  int64_t ldc = 0, stride_c = 0;
  int batch = 1;
  Epilogue epilogue = Epilogue::none;
  const void* bias = nullptr;
};

Status blas_create(Blas* out);
Status blas_destroy(Blas blas);
Status gemm(Blas blas, const GemmDesc& desc, Stream stream);
// The checks both builds make before running a GEMM (shapes, leading dimensions, types).
Status validate_gemm(const GemmDesc& desc);

}  // namespace cuclip::gpu::inline CUCLIP_BUILD_NS
