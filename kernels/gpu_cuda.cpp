// The CUDA implementation of cuclip::gpu (kernels/gpu.hpp): thin wrappers over the CUDA runtime
// that turn every error into a Status naming the call, and GEMMs through cuBLASLt (one code path
// for plain, batched and bias-epilogue products; compute in f32 for every input type, no TF32).
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kernels/gpu.hpp"

namespace cuclip::gpu::inline cuda_build {

struct GraphState {
  cudaGraphExec_t exec = nullptr;
};

// A cuBLASLt plan: the descriptors of one GEMM configuration and the algorithm the heuristic chose
// for it. Made once per configuration and handle: creating descriptors and asking the heuristic
// costs tens of microseconds of host time per call, which eager small-batch forwards (about 50
// GEMMs each) would pay every time.
struct LtPlan {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  cublasLtMatmulHeuristicResult_t heuristic = {};
  LtPlan() = default;
  LtPlan(const LtPlan&) = delete;
  LtPlan& operator=(const LtPlan&) = delete;
  ~LtPlan() {
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (c) cublasLtMatrixLayoutDestroy(c);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (op) cublasLtMatmulDescDestroy(op);
  }
};

struct BlasState {
  cublasLtHandle_t lt = nullptr;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  // Plans by configuration (everything but the pointers, alpha, beta and the bias pointer).
  std::map<std::vector<int64_t>, std::unique_ptr<LtPlan>> plans;
};

namespace {

constexpr size_t kBlasWorkspaceBytes = 32u << 20;  // what cuBLASLt's fastest Hopper kernels ask for

Status cuda_status(const char* call, cudaError_t e) {
  // Clear the runtime's last-error state (non-sticky errors), or the next launch's
  // cudaGetLastError() check would report this error against an innocent kernel.
  (void)cudaGetLastError();
  cuclip_status code = e == cudaErrorMemoryAllocation ? CUCLIP_ERR_OUT_OF_MEMORY : CUCLIP_ERR_DEVICE;
  return Err(code, std::string(call) + ": " + cudaGetErrorName(e) + ": " + cudaGetErrorString(e));
}

Status blas_status(const char* call, cublasStatus_t e) {
  return Err(e == CUBLAS_STATUS_ALLOC_FAILED ? CUCLIP_ERR_OUT_OF_MEMORY : CUCLIP_ERR_DEVICE,
             std::string(call) + ": " + cublasLtGetStatusName(e) + ": " + cublasLtGetStatusString(e));
}

#define CUCLIP_CUDA_TRY(call)                                          \
  do {                                                                 \
    cudaError_t cuclip_e_ = (call);                                    \
    if (cuclip_e_ != cudaSuccess) return cuda_status(#call, cuclip_e_); \
  } while (0)

#define CUCLIP_BLAS_TRY(call)                                                      \
  do {                                                                             \
    cublasStatus_t cuclip_b_ = (call);                                             \
    if (cuclip_b_ != CUBLAS_STATUS_SUCCESS) return blas_status(#call, cuclip_b_); \
  } while (0)

Status copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, Stream stream) {
  CUCLIP_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, kind, stream));
  return Status::Ok();
}

cudaDataType_t cuda_type(DType t) {
  switch (t) {
    case DType::f32: return CUDA_R_32F;
    case DType::f16: return CUDA_R_16F;
    case DType::bf16: return CUDA_R_16BF;
  }
  return CUDA_R_32F;
}

// Owns the cuBLASLt descriptors of one GEMM call.

Status make_layout(cublasLtMatrixLayout_t* out, DType t, int64_t rows, int64_t cols, int64_t ld, int batch,
                   int64_t stride) {
  CUCLIP_BLAS_TRY(cublasLtMatrixLayoutCreate(out, cuda_type(t), static_cast<uint64_t>(rows),
                                             static_cast<uint64_t>(cols), ld));
  int32_t count = batch;
  CUCLIP_BLAS_TRY(cublasLtMatrixLayoutSetAttribute(*out, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof count));
  CUCLIP_BLAS_TRY(
      cublasLtMatrixLayoutSetAttribute(*out, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof stride));
  return Status::Ok();
}

// The largest power of two up to 256 dividing the address and, for batches, the byte stride: what
// cuBLASLt may assume about the operand (its default assumption is 256, which batches with odd strides
// or offset pointers break).
uint32_t operand_alignment(const void* p, int64_t stride_elements, DType t, int batch) {
  uint64_t bits = reinterpret_cast<uintptr_t>(p) | 256u;
  if (batch > 1) bits |= static_cast<uint64_t>(stride_elements) * (t == DType::f32 ? 4 : 2);
  return static_cast<uint32_t>(bits & (~bits + 1));
}

}  // namespace

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // no driver or no device: not an error for the caller
    return 0;
  }
  return n;
}

Status set_device(int index) {
  CUCLIP_CUDA_TRY(cudaSetDevice(index));
  return Status::Ok();
}

Status device_info(DeviceInfo* out) {
  int dev = 0;
  CUCLIP_CUDA_TRY(cudaGetDevice(&dev));
  cudaDeviceProp p;
  CUCLIP_CUDA_TRY(cudaGetDeviceProperties(&p, dev));
  out->name = p.name;
  out->sm_major = p.major;
  out->sm_minor = p.minor;
  out->sm_count = p.multiProcessorCount;
  out->smem_per_block = p.sharedMemPerBlock;
  out->smem_per_block_optin = p.sharedMemPerBlockOptin;
  out->global_mem_bytes = p.totalGlobalMem;
  out->emulated = false;
  return Status::Ok();
}

Status device_synchronize() {
  CUCLIP_CUDA_TRY(cudaDeviceSynchronize());
  return Status::Ok();
}

Status device_alloc(void** out, size_t bytes) {
  *out = nullptr;
  CUCLIP_CUDA_TRY(cudaMalloc(out, bytes));
  return Status::Ok();
}
Status device_free(void* ptr) {
  CUCLIP_CUDA_TRY(cudaFree(ptr));
  return Status::Ok();
}
Status host_alloc_pinned(void** out, size_t bytes) {
  *out = nullptr;
  CUCLIP_CUDA_TRY(cudaMallocHost(out, bytes));
  return Status::Ok();
}
Status host_free_pinned(void* ptr) {
  CUCLIP_CUDA_TRY(cudaFreeHost(ptr));
  return Status::Ok();
}

Status memcpy_h2d(void* dst, const void* src, size_t bytes, Stream s) { return copy(dst, src, bytes, cudaMemcpyHostToDevice, s); }
Status memcpy_d2h(void* dst, const void* src, size_t bytes, Stream s) { return copy(dst, src, bytes, cudaMemcpyDeviceToHost, s); }
Status memcpy_d2d(void* dst, const void* src, size_t bytes, Stream s) { return copy(dst, src, bytes, cudaMemcpyDeviceToDevice, s); }
Status memset(void* dst, int byte_value, size_t bytes, Stream stream) {
  CUCLIP_CUDA_TRY(cudaMemsetAsync(dst, byte_value, bytes, stream));
  return Status::Ok();
}

Status stream_create(Stream* out) {
  CUCLIP_CUDA_TRY(cudaStreamCreateWithFlags(out, cudaStreamNonBlocking));
  return Status::Ok();
}
Status stream_destroy(Stream stream) {
  CUCLIP_CUDA_TRY(cudaStreamDestroy(stream));
  return Status::Ok();
}
Status stream_synchronize(Stream stream) {
  CUCLIP_CUDA_TRY(cudaStreamSynchronize(stream));
  return Status::Ok();
}
Status stream_wait_event(Stream stream, Event event) {
  CUCLIP_CUDA_TRY(cudaStreamWaitEvent(stream, event, 0));
  return Status::Ok();
}

Status event_create(Event* out) {
  CUCLIP_CUDA_TRY(cudaEventCreate(out));
  return Status::Ok();
}
Status event_destroy(Event event) {
  CUCLIP_CUDA_TRY(cudaEventDestroy(event));
  return Status::Ok();
}
Status event_record(Event event, Stream stream) {
  CUCLIP_CUDA_TRY(cudaEventRecord(event, stream));
  return Status::Ok();
}
Status event_synchronize(Event event) {
  CUCLIP_CUDA_TRY(cudaEventSynchronize(event));
  return Status::Ok();
}
Status event_elapsed_ms(Event start, Event end, float* ms) {
  CUCLIP_CUDA_TRY(cudaEventElapsedTime(ms, start, end));
  return Status::Ok();
}

Status begin_capture(Stream stream) {
  CUCLIP_CUDA_TRY(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  return Status::Ok();
}
Status end_capture(Stream stream, Graph* out) {
  *out = nullptr;
  cudaGraph_t graph = nullptr;
  CUCLIP_CUDA_TRY(cudaStreamEndCapture(stream, &graph));
  cudaGraphExec_t exec = nullptr;
  cudaError_t e = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  if (e != cudaSuccess) return cuda_status("cudaGraphInstantiate", e);
  *out = new GraphState{exec};
  return Status::Ok();
}
Status graph_launch(Graph graph, Stream stream) {
  if (!graph) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "graph_launch: null graph");
  CUCLIP_CUDA_TRY(cudaGraphLaunch(graph->exec, stream));
  return Status::Ok();
}
Status graph_destroy(Graph graph) {
  if (!graph) return Status::Ok();
  cudaError_t e = cudaGraphExecDestroy(graph->exec);
  delete graph;
  if (e != cudaSuccess) return cuda_status("cudaGraphExecDestroy", e);
  return Status::Ok();
}

Status blas_create(Blas* out) {
  *out = nullptr;
  auto* b = new BlasState;
  cublasStatus_t e = cublasLtCreate(&b->lt);
  if (e != CUBLAS_STATUS_SUCCESS) {
    delete b;
    return blas_status("cublasLtCreate", e);
  }
  cudaError_t ce = cudaMalloc(&b->workspace, kBlasWorkspaceBytes);
  if (ce != cudaSuccess) {
    cublasLtDestroy(b->lt);
    delete b;
    return cuda_status("cudaMalloc(cuBLASLt workspace)", ce);
  }
  b->workspace_bytes = kBlasWorkspaceBytes;
  *out = b;
  return Status::Ok();
}

Status blas_destroy(Blas blas) {
  if (!blas) return Status::Ok();
  blas->plans.clear();
  cudaError_t ce = cudaFree(blas->workspace);
  cublasStatus_t e = cublasLtDestroy(blas->lt);
  delete blas;
  if (ce != cudaSuccess) return cuda_status("cudaFree(cuBLASLt workspace)", ce);
  if (e != CUBLAS_STATUS_SUCCESS) return blas_status("cublasLtDestroy", e);
  return Status::Ok();
}

namespace {

constexpr size_t kMaxPlans = 512;  // distinct GEMM configurations kept per handle; then start over

// Makes the plan of g's configuration (descriptors, preference, heuristic); UNSUPPORTED when
// cuBLASLt has no algorithm for it.
Status make_plan(Blas blas, const GemmDesc& g, uint32_t align_a, uint32_t align_b, uint32_t align_c, LtPlan* plan) {
  CUCLIP_BLAS_TRY(cublasLtMatmulDescCreate(&plan->op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  cublasOperation_t ta = g.trans_a == Op::T ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasOperation_t tb = g.trans_b == Op::T ? CUBLAS_OP_T : CUBLAS_OP_N;
  CUCLIP_BLAS_TRY(cublasLtMatmulDescSetAttribute(plan->op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
  CUCLIP_BLAS_TRY(cublasLtMatmulDescSetAttribute(plan->op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
  if (g.epilogue == Epilogue::bias) {
    cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
    cudaDataType_t bias_type = cuda_type(g.c_type);
    CUCLIP_BLAS_TRY(cublasLtMatmulDescSetAttribute(plan->op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
    CUCLIP_BLAS_TRY(cublasLtMatmulDescSetAttribute(plan->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &g.bias, sizeof g.bias));
    CUCLIP_BLAS_TRY(
        cublasLtMatmulDescSetAttribute(plan->op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof bias_type));
  }
  bool tra = g.trans_a == Op::T, trb = g.trans_b == Op::T;
  CUCLIP_TRY(make_layout(&plan->a, g.a_type, tra ? g.k : g.m, tra ? g.m : g.k, g.lda, g.batch, g.stride_a));
  CUCLIP_TRY(make_layout(&plan->b, g.b_type, trb ? g.n : g.k, trb ? g.k : g.n, g.ldb, g.batch, g.stride_b));
  CUCLIP_TRY(make_layout(&plan->c, g.c_type, g.m, g.n, g.ldc, g.batch, g.stride_c));
  CUCLIP_BLAS_TRY(cublasLtMatmulPreferenceCreate(&plan->pref));
  CUCLIP_BLAS_TRY(cublasLtMatmulPreferenceSetAttribute(plan->pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                       &blas->workspace_bytes, sizeof blas->workspace_bytes));
  CUCLIP_BLAS_TRY(cublasLtMatmulPreferenceSetAttribute(plan->pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_a, sizeof align_a));
  CUCLIP_BLAS_TRY(cublasLtMatmulPreferenceSetAttribute(plan->pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_b, sizeof align_b));
  CUCLIP_BLAS_TRY(cublasLtMatmulPreferenceSetAttribute(plan->pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_c, sizeof align_c));
  CUCLIP_BLAS_TRY(cublasLtMatmulPreferenceSetAttribute(plan->pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_c, sizeof align_c));
  int found = 0;
  CUCLIP_BLAS_TRY(cublasLtMatmulAlgoGetHeuristic(blas->lt, plan->op, plan->a, plan->b, plan->c, plan->c, plan->pref, 1,
                                                 &plan->heuristic, &found));
  if (found == 0) return Err(CUCLIP_ERR_UNSUPPORTED, "gemm: cuBLASLt has no algorithm for this shape and type combination");
  return Status::Ok();
}

}  // namespace

Status gemm(Blas blas, const GemmDesc& g, Stream stream) {
  if (!blas) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "gemm: null BLAS handle");
  CUCLIP_TRY(validate_gemm(g));
  if (g.m == 0 || g.n == 0) return Status::Ok();
  const uint32_t align_a = operand_alignment(g.a, g.stride_a, g.a_type, g.batch);
  const uint32_t align_b = operand_alignment(g.b, g.stride_b, g.b_type, g.batch);
  const uint32_t align_c = operand_alignment(g.c, g.stride_c, g.c_type, g.batch);
  const std::vector<int64_t> key = {(int64_t)g.trans_a, (int64_t)g.trans_b, g.m, g.n, g.k, (int64_t)g.a_type, (int64_t)g.b_type,
                                    (int64_t)g.c_type, g.lda, g.ldb, g.ldc, g.batch, g.stride_a, g.stride_b, g.stride_c,
                                    (int64_t)g.epilogue, align_a, align_b, align_c};
  LtPlan* plan = nullptr;
  if (auto it = blas->plans.find(key); it != blas->plans.end()) {
    plan = it->second.get();
    if (g.epilogue == Epilogue::bias)  // the one per-call attribute: which bias
      CUCLIP_BLAS_TRY(cublasLtMatmulDescSetAttribute(plan->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &g.bias, sizeof g.bias));
  } else {
    auto made = std::make_unique<LtPlan>();
    CUCLIP_TRY(make_plan(blas, g, align_a, align_b, align_c, made.get()));
    if (blas->plans.size() >= kMaxPlans) blas->plans.clear();
    plan = made.get();
    blas->plans.emplace(key, std::move(made));
  }
  CUCLIP_BLAS_TRY(cublasLtMatmul(blas->lt, plan->op, &g.alpha, g.a, plan->a, g.b, plan->b, &g.beta, g.c, plan->c, g.c,
                                 plan->c, &plan->heuristic.algo, blas->workspace, blas->workspace_bytes, stream));
  return Status::Ok();
}

}  // namespace cuclip::gpu::inline cuda_build
