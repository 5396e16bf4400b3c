// GEMM lab: C[M, N] = A[M, K] · W[N, K]^T + bias[N] in f16 with f32 accumulation — every linear
// layer of CLIP (W in PyTorch's [out, in] layout, as the model file stores it) — at the shapes of
// the standard towers: M = batch x tokens, (N, K) = qkv (3C, C), MLP up (4C, C), MLP down (C, 4C).
//
// Versions, side by side:
//   v1  naive: one thread per output, K loop straight from global memory (W reads uncoalesced).
//   v2  shared-memory tiles: 64x64 outputs per block, 16-deep K slices of A and W staged in smem,
//       each thread accumulates a 4x4 register tile in f32 (CUDA cores, no tensor cores).
//   v3  cuBLASLt: f16 tensor-core GEMM with the bias fused as an epilogue (what a backend gets for
//       free; the bar a hand-written kernel has to reach).
//   v4  the CUDA backend's kernels/gemm.cu (gemm_forward, Epilogue::Bias), when built with it
//       (CUCLIP_LAB_ENGINE_KERNELS): where the shipped kernel stands against v3 and the roof.
// Each version is checked against a double-precision CPU GEMM on sampled rows before it is timed.
//
// usage: cuclip_lab_gemm [--quick] [--batch 1,8,64] [--max-ms N]
#include "common.cuh"

#if defined(CUCLIP_LAB_ENGINE_KERNELS)
#include "kernels/gemm.hpp"
constexpr int kVersions = 4;
#else
constexpr int kVersions = 3;
#endif

namespace {

constexpr int kNaiveBlock = 16;

__global__ void gemm_v1_kernel(int M, int N, int K, const __half* A, const __half* W, const float* bias, __half* C) {
  const int n = blockIdx.x * kNaiveBlock + threadIdx.x, m = blockIdx.y * kNaiveBlock + threadIdx.y;
  if (m >= M || n >= N) return;
  float acc = 0;
  for (int k = 0; k < K; ++k) acc += __half2float(A[(size_t)m * K + k]) * __half2float(W[(size_t)n * K + k]);
  C[(size_t)m * N + n] = __float2half(acc + bias[n]);
}

constexpr int kTile = 64, kTileK = 16, kThreads = 256, kPerThread = 4;  // 16x16 threads x 4x4 outputs

__global__ void __launch_bounds__(kThreads) gemm_v2_kernel(int M, int N, int K, const __half* A, const __half* W, const float* bias, __half* C) {
  // K-major tiles so that each thread reads 4 consecutive floats for its 4 rows / 4 columns.
  __shared__ float As[kTileK][kTile + 4];
  __shared__ float Ws[kTileK][kTile + 4];
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const int m0 = blockIdx.y * kTile, n0 = blockIdx.x * kTile;
  float acc[kPerThread][kPerThread] = {};
  for (int k0 = 0; k0 < K; k0 += kTileK) {
    // 64 rows x 16 k of A and of W: 1024 values each, 4 per thread, consecutive k for coalescing.
    for (int i = threadIdx.x; i < kTile * kTileK; i += kThreads) {
      const int r = i / kTileK, kk = i % kTileK;
      const int m = m0 + r, n = n0 + r, k = k0 + kk;
      As[kk][r] = (m < M && k < K) ? __half2float(A[(size_t)m * K + k]) : 0.0f;
      Ws[kk][r] = (n < N && k < K) ? __half2float(W[(size_t)n * K + k]) : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTileK; ++kk) {
      float a[kPerThread], w[kPerThread];
#pragma unroll
      for (int i = 0; i < kPerThread; ++i) a[i] = As[kk][ty * kPerThread + i], w[i] = Ws[kk][tx * kPerThread + i];
#pragma unroll
      for (int i = 0; i < kPerThread; ++i)
#pragma unroll
        for (int j = 0; j < kPerThread; ++j) acc[i][j] += a[i] * w[j];
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < kPerThread; ++i)
#pragma unroll
    for (int j = 0; j < kPerThread; ++j) {
      const int m = m0 + ty * kPerThread + i, n = n0 + tx * kPerThread + j;
      if (m < M && n < N) C[(size_t)m * N + n] = __float2half(acc[i][j] + bias[n]);
    }
}

// v3: a cuBLASLt plan for one shape (row-major C = A W^T is column-major C^T = W A^T).
struct LtGemm {
  cublasLtHandle_t lt;
  cublasLtMatmulDesc_t op{};
  cublasLtMatrixLayout_t lw{}, la{}, lc{};
  cublasLtMatmulHeuristicResult_t algo{};
  lab::DeviceBuffer<unsigned char> workspace{32u << 20};
  bool ok = false;
  LtGemm(cublasLtHandle_t h, int M, int N, int K, const __half* bias) : lt(h) {
    LAB_CUBLAS(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    const cublasOperation_t t = CUBLAS_OP_T, n = CUBLAS_OP_N;
    LAB_CUBLAS(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof t));
    LAB_CUBLAS(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &n, sizeof n));
    const cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
    const cudaDataType_t bias_type = CUDA_R_16F;  // cuBLASLt wants the bias in D's type for f16 outputs
    LAB_CUBLAS(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
    LAB_CUBLAS(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    LAB_CUBLAS(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof bias_type));
    LAB_CUBLAS(cublasLtMatrixLayoutCreate(&lw, CUDA_R_16F, K, N, K));  // W^T: column-major K x N
    LAB_CUBLAS(cublasLtMatrixLayoutCreate(&la, CUDA_R_16F, K, M, K));  // A^T: column-major K x M
    LAB_CUBLAS(cublasLtMatrixLayoutCreate(&lc, CUDA_R_16F, N, M, N));  // C^T: column-major N x M
    cublasLtMatmulPreference_t pref;
    LAB_CUBLAS(cublasLtMatmulPreferenceCreate(&pref));
    const size_t ws = workspace.n;
    LAB_CUBLAS(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
    int found = 0;
    ok = cublasLtMatmulAlgoGetHeuristic(lt, op, lw, la, lc, lc, pref, 1, &algo, &found) == CUBLAS_STATUS_SUCCESS && found > 0;
    cublasLtMatmulPreferenceDestroy(pref);
  }
  ~LtGemm() {
    cublasLtMatrixLayoutDestroy(lw);
    cublasLtMatrixLayoutDestroy(la);
    cublasLtMatrixLayoutDestroy(lc);
    cublasLtMatmulDescDestroy(op);
  }
  void run(const __half* A, const __half* W, __half* C) {
    const float one = 1, zero = 0;
    LAB_CUBLAS(cublasLtMatmul(lt, op, &one, W, lw, A, la, &zero, C, lc, C, lc, &algo.algo, workspace.p, workspace.n, 0));
  }
};

// Double-precision reference for the given rows of C.
std::vector<float> reference_rows(const std::vector<float>& a_rows, const std::vector<float>& w, const std::vector<float>& bias, int N, int K,
                                  size_t n_rows) {
  std::vector<float> c(n_rows * N);
  for (size_t r = 0; r < n_rows; ++r)
    for (int n = 0; n < N; ++n) {
      double s = bias[n];
      for (int k = 0; k < K; ++k) s += (double)a_rows[r * K + k] * w[(size_t)n * K + k];
      c[r * N + n] = (float)s;
    }
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  const lab::LabArgs args = lab::parse_lab_args(argc, argv, "usage: cuclip_lab_gemm [--quick] [--batch 1,8,64] [--max-ms N]\n");
  cublasHandle_t blas;
  cublasLtHandle_t lt;
  LAB_CUBLAS(cublasCreate(&blas));
  LAB_CUBLAS(cublasLtCreate(&lt));
  lab::L2Flusher l2;
  const lab::Roofs roofs = lab::measure_roofs(blas, l2);
  lab::print_device_and_roofs("GEMM (f16 in/out, f32 accumulate, + bias)", roofs);

  struct Layer {
    const char* name;
    int n_mult, k_mult;  // N = n_mult * C, K = k_mult * C
  };
  const Layer layers[] = {{"qkv", 3, 1}, {"mlp_up", 4, 1}, {"mlp_down", 1, 4}};
  bool all_ok = true;
  for (const lab::TowerShape& tw : lab::clip_towers()) {
    if (args.quick && std::string(tw.name) != "B/32 vision" && std::string(tw.name) != "L/14 vision" && std::string(tw.name) != "H/14 vision" &&
        std::string(tw.name) != "B text")
      continue;
    for (const Layer& ly : layers) {
      if (args.quick && std::string(ly.name) == "mlp_down") continue;
      const int N = ly.n_mult * tw.width, K = ly.k_mult * tw.width;
      bool too_slow[kVersions + 1] = {};  // a version over budget at one batch is over it at every larger one
      for (int batch : args.batches) {
        const long M = (long)batch * tw.tokens;
        char shape[96];
        std::snprintf(shape, sizeof shape, "%s %s b%d: %ldx%dx%d", tw.name, ly.name, batch, M, N, K);
        const int copies = lab::rotation_copies((size_t)M * K * 2);
        lab::Rotation<__half> A((size_t)M * K, copies, 1, 1.0f);
        lab::Rotation<__half> W((size_t)N * K, copies, 2, 1.0f / std::sqrt((float)K));
        lab::DeviceBuffer<__half> C((size_t)M * N), bias_h(N);
        lab::fill_uniform(bias_h.p, N, 3, 0.5f);
        // bias in f32, as the model file keeps it
        std::vector<__half> bh(N);
        LAB_CUDA(cudaMemcpy(bh.data(), bias_h.p, N * 2, cudaMemcpyDeviceToHost));
        std::vector<float> bias(N);
        for (int i = 0; i < N; ++i) bias[i] = __half2float(bh[i]);
        lab::DeviceBuffer<float> bias_d(N);
        bias_d.upload(bias);

        // Reference on sampled rows (same for every version).
        const std::vector<long> rows = lab::sample_rows(M, 64);
        const std::vector<float> a_rows = lab::download_rows(A.first(), K, rows);
        std::vector<long> all_w(N);
        for (int i = 0; i < N; ++i) all_w[i] = i;
        const std::vector<float> w_host = lab::download_rows(W.first(), K, all_w);
        const std::vector<float> ref = reference_rows(a_rows, w_host, bias, N, K, rows.size());
        const double bytes = 2.0 * M * K + 2.0 * N * K + 2.0 * M * N + 4.0 * N, flops = 2.0 * M * N * (double)K;

        LtGemm v3(lt, (int)M, N, K, bias_h.p);
        std::string engine_error;  // v4's launcher status, when it refuses
        auto launch = [&](int ver, int rep) {
          const __half *a = A.at(rep), *w = W.at(rep);
          if (ver == 4) {
#if defined(CUCLIP_LAB_ENGINE_KERNELS)
            const cuclip::Status st = cuclip::kernels::gemm_forward(cuclip::gpu::DType::f16, (int)M, N, K, a, w, bias_d.p,
                                                                    cuclip::kernels::Epilogue::Bias, nullptr, C.p, 0);
            if (!st.ok()) engine_error = st.message;
#endif
          } else if (ver == 1) {
            dim3 grid(lab::ceil_div(N, kNaiveBlock), (unsigned)lab::ceil_div(M, (long)kNaiveBlock));
            gemm_v1_kernel<<<grid, dim3(kNaiveBlock, kNaiveBlock)>>>((int)M, N, K, a, w, bias_d.p, C.p);
          } else if (ver == 2) {
            dim3 grid(lab::ceil_div(N, kTile), (unsigned)lab::ceil_div(M, (long)kTile));
            gemm_v2_kernel<<<grid, kThreads>>>((int)M, N, K, a, w, bias_d.p, C.p);
          } else {
            v3.run(a, w, C.p);
          }
        };
        for (int ver = 1; ver <= kVersions; ++ver) {
          const char* vname = ver == 1 ? "v1" : ver == 2 ? "v2" : ver == 3 ? "v3" : "v4";
          if (ver == 3 && !v3.ok) { lab::print_skip("gemm", vname, shape, "cuBLASLt found no algorithm"); continue; }
          if (too_slow[ver]) { lab::print_skip("gemm", vname, shape, "over --max-ms at a smaller batch"); continue; }
          LAB_CUDA(cudaMemset(C.p, 0xff, (size_t)M * N * 2));  // poison: NaN in f16
          const double one = lab::probe_ms([&](int r) { launch(ver, r); });
          if (!engine_error.empty()) {
            std::printf("CHECK FAILED gemm %s %s: the launcher refused: %s\n", vname, shape, engine_error.c_str());
            all_ok = false;
            continue;
          }
          // f16 output: half an ulp is 2^-11 relative; 2e-3 (~4 ulps) also covers f32 summation order.
          if (!lab::check_close((std::string("gemm ") + vname + " " + shape).c_str(), lab::download_rows(C.p, N, rows), ref, 2e-3, 2e-3)) {
            all_ok = false;
            continue;
          }
          if (one * (lab::kRepeats + lab::kWarmup) > args.max_ms) {
            char why[96];
            std::snprintf(why, sizeof why, "one launch %.1f ms x %d repeats > --max-ms %.0f", one, lab::kRepeats, args.max_ms);
            lab::print_skip("gemm", vname, shape, why);
            too_slow[ver] = true;
            continue;
          }
          const double ms = lab::time_ms([&](int r) { launch(ver, r); }, l2);
          lab::print_row("gemm", vname, shape, ms, bytes, flops, roofs);
        }
      }
    }
  }
  cublasLtDestroy(lt);
  cublasDestroy(blas);
  return all_ok ? 0 : 1;
}
