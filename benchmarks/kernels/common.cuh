// The harness every CUDA kernel lab shares: checks that stop the program (labs are tools, not the
// library), input rotation, L2 flushing, CUDA-event timing with the median of many repeats, the
// roofs measured in the same run, correctness checks against a CPU reference, and the one-line
// report per configuration:  op | version | shape | ms | GB/s | TFLOP/s | % of roof (bound).
//
// Timing rules (why each is there):
//  * warm-up launches first: module load, clock ramp-up and cuBLAS heuristics are not measured;
//  * before every timed launch a buffer twice the L2 size is written, so no input is served from
//    an L2 warmed by the previous repeat;
//  * inputs rotate over several copies, so not even the L2's write-back state of the last copy is
//    what is measured, and the kernel cannot depend on its output buffer's previous contents;
//  * median of >= 20 repeats (CUDA events around the kernel only, not the flush).
#pragma once
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#define LAB_CUDA(call)                                                                                \
  do {                                                                                                \
    cudaError_t lab_e_ = (call);                                                                      \
    if (lab_e_ != cudaSuccess) {                                                                      \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(lab_e_)); \
      std::exit(1);                                                                                   \
    }                                                                                                 \
  } while (0)
#define LAB_CUBLAS(call)                                                                             \
  do {                                                                                               \
    int lab_s_ = (int)(call);                                                                        \
    if (lab_s_ != 0) {                                                                               \
      std::fprintf(stderr, "%s:%d: %s: cuBLAS status %d\n", __FILE__, __LINE__, #call, lab_s_);      \
      std::exit(1);                                                                                  \
    }                                                                                                \
  } while (0)

namespace lab {

constexpr int kRepeats = 25;  // >= 20, odd so that the median is one sample
constexpr int kWarmup = 3;

template <class T>
constexpr T ceil_div(T a, T b) { return (a + b - 1) / b; }

// Device buffers that free themselves.
template <class T>
struct DeviceBuffer {
  T* p = nullptr;
  size_t n = 0;
  explicit DeviceBuffer(size_t count = 0) { resize(count); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { cudaFree(p); }
  void resize(size_t count) {
    cudaFree(p);
    p = nullptr;
    n = count;
    if (count) LAB_CUDA(cudaMalloc(&p, count * sizeof(T)));
  }
  void upload(const std::vector<T>& h) { LAB_CUDA(cudaMemcpy(p, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice)); }
};

// Uniform values in [-scale, scale) from a hash of the index: fills gigabytes in microseconds,
// reproducibly, without a host round trip.
__global__ void fill_uniform_kernel(__half* p, size_t n, unsigned seed, float scale) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    unsigned long long z = (i + 1) * 0x9E3779B97F4A7C15ull ^ ((unsigned long long)seed << 32);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    p[i] = __float2half(((float)(z >> 40) * (2.0f / 16777216.0f) - 1.0f) * scale);
  }
}
inline void fill_uniform(__half* p, size_t n, unsigned seed, float scale) {
  fill_uniform_kernel<<<1024, 256>>>(p, n, seed, scale);
  LAB_CUDA(cudaGetLastError());
}

// Several identical copies of one random input, used in turn by successive repeats.
template <class T>
struct Rotation {
  std::vector<DeviceBuffer<T>*> copies;
  Rotation(size_t n, int n_copies, unsigned seed, float scale) {
    for (int i = 0; i < n_copies; ++i) copies.push_back(new DeviceBuffer<T>(n));
    fill_uniform(copies[0]->p, n, seed, scale);
    for (int i = 1; i < n_copies; ++i) LAB_CUDA(cudaMemcpy(copies[i]->p, copies[0]->p, n * sizeof(T), cudaMemcpyDeviceToDevice));
  }
  Rotation(const Rotation&) = delete;
  Rotation& operator=(const Rotation&) = delete;
  ~Rotation() {
    for (auto* c : copies) delete c;
  }
  T* at(int rep) const { return copies[(size_t)rep % copies.size()]->p; }
  const T* first() const { return copies[0]->p; }
};

// How many copies fit next to `bytes_each` without crowding the device: 4, fewer for huge inputs.
inline int rotation_copies(size_t bytes_each) {
  size_t free_b = 0, total_b = 0;
  LAB_CUDA(cudaMemGetInfo(&free_b, &total_b));
  const size_t allowed = free_b / 4;  // leave room for outputs, workspaces and the flush buffer
  return (int)std::max<size_t>(1, std::min<size_t>(4, allowed / std::max<size_t>(bytes_each, 1)));
}

class L2Flusher {
 public:
  L2Flusher() {
    int dev = 0, l2 = 0;
    LAB_CUDA(cudaGetDevice(&dev));
    LAB_CUDA(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev));
    buf_.resize((size_t)std::max(l2, 1 << 20) * 2);
  }
  void flush(cudaStream_t s) { LAB_CUDA(cudaMemsetAsync(buf_.p, (int)(++tick_ & 0xff), buf_.n, s)); }

 private:
  DeviceBuffer<unsigned char> buf_;
  unsigned tick_ = 0;
};

// Median milliseconds of `launch(rep)` over kRepeats, each after an L2 flush.
template <class F>
double time_ms(F&& launch, L2Flusher& l2, cudaStream_t s = 0, int repeats = kRepeats) {
  cudaEvent_t a, b;
  LAB_CUDA(cudaEventCreate(&a));
  LAB_CUDA(cudaEventCreate(&b));
  for (int w = 0; w < kWarmup; ++w) launch(w);
  LAB_CUDA(cudaGetLastError());
  std::vector<float> ms;
  for (int r = 0; r < repeats; ++r) {
    l2.flush(s);
    LAB_CUDA(cudaEventRecord(a, s));
    launch(r);
    LAB_CUDA(cudaEventRecord(b, s));
    LAB_CUDA(cudaEventSynchronize(b));
    float t = 0;
    LAB_CUDA(cudaEventElapsedTime(&t, a, b));
    ms.push_back(t);
  }
  LAB_CUDA(cudaGetLastError());
  LAB_CUDA(cudaEventDestroy(a));
  LAB_CUDA(cudaEventDestroy(b));
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// One launch's milliseconds (after one warm-up), to decide whether a slow version fits the budget.
template <class F>
double probe_ms(F&& launch, cudaStream_t s = 0) {
  launch(0);
  cudaEvent_t a, b;
  LAB_CUDA(cudaEventCreate(&a));
  LAB_CUDA(cudaEventCreate(&b));
  LAB_CUDA(cudaEventRecord(a, s));
  launch(1);
  LAB_CUDA(cudaEventRecord(b, s));
  LAB_CUDA(cudaEventSynchronize(b));
  float t = 0;
  LAB_CUDA(cudaEventElapsedTime(&t, a, b));
  LAB_CUDA(cudaEventDestroy(a));
  LAB_CUDA(cudaEventDestroy(b));
  return t;
}

// ---- roofs, measured in the same run -----------------------------------------------------------

struct Roofs {
  double copy_gbps = 0;    // device-to-device cudaMemcpy, bytes read + written per second / 1e9
  double f16_tflops = 0;   // cuBLAS f16 GEMM (f32 accumulate) on a large square problem
};

inline double measure_copy_gbps(L2Flusher& l2) {
  const size_t bytes = size_t(1) << 30;
  DeviceBuffer<unsigned char> src(bytes), dst(bytes);
  LAB_CUDA(cudaMemset(src.p, 1, bytes));
  const double ms = time_ms([&](int) { LAB_CUDA(cudaMemcpyAsync(dst.p, src.p, bytes, cudaMemcpyDeviceToDevice)); }, l2);
  return 2.0 * bytes / (ms * 1e-3) / 1e9;
}

inline double measure_f16_gemm_tflops(cublasHandle_t h, L2Flusher& l2) {
  const int n = 8192;
  DeviceBuffer<__half> A((size_t)n * n), B((size_t)n * n), C((size_t)n * n);
  fill_uniform(A.p, A.n, 7, 1.0f);
  fill_uniform(B.p, B.n, 8, 1.0f);
  const float one = 1, zero = 0;
  const double ms = time_ms(
      [&](int) {
        LAB_CUBLAS(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, n, n, n, &one, A.p, CUDA_R_16F, n, B.p, CUDA_R_16F, n, &zero, C.p,
                                CUDA_R_16F, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
      },
      l2);
  return 2.0 * n * n * (double)n / (ms * 1e-3) / 1e12;
}

inline Roofs measure_roofs(cublasHandle_t h, L2Flusher& l2) {
  Roofs r;
  r.copy_gbps = measure_copy_gbps(l2);
  r.f16_tflops = measure_f16_gemm_tflops(h, l2);
  return r;
}

inline void print_device_and_roofs(const char* lab, const Roofs& r) {
  int dev = 0, drv = 0, rt = 0;
  cudaDeviceProp p{};
  LAB_CUDA(cudaGetDevice(&dev));
  LAB_CUDA(cudaGetDeviceProperties(&p, dev));
  cudaDriverGetVersion(&drv);
  cudaRuntimeGetVersion(&rt);
  std::printf("# %s lab on %s (sm_%d%d, %d SMs, L2 %d MB), driver %d, runtime %d\n", lab, p.name, p.major, p.minor,
              p.multiProcessorCount, p.l2CacheSize >> 20, drv, rt);
  std::printf("# roofs measured now: copy %.1f GB/s (D2D memcpy, read+write), f16 GEMM %.1f TFLOP/s (cuBLAS 8192^3, f32 accumulate)\n",
              r.copy_gbps, r.f16_tflops);
  std::printf("# timing: CUDA events, %d warm-up, median of %d repeats, L2 flushed before each, inputs rotated\n", kWarmup, kRepeats);
  std::printf("%-10s | %-4s | %-44s | %10s | %9s | %8s | %s\n", "op", "ver", "shape", "ms", "GB/s", "TFLOP/s", "% of roof (bound)");
}

// One report line. % of roof = the roofline time (the larger of bytes / copy bandwidth and flops /
// GEMM peak) over the measured time; the bound says which roof that is.
inline void print_row(const char* op, const char* ver, const std::string& shape, double ms, double bytes, double flops, const Roofs& r) {
  const double s = ms * 1e-3, t_mem = bytes / (r.copy_gbps * 1e9), t_fp = flops / (r.f16_tflops * 1e12);
  const double pct = 100.0 * std::max(t_mem, t_fp) / s;
  std::printf("%-10s | %-4s | %-44s | %10.4f | %9.1f | %8.2f | %5.1f%% (%s)\n", op, ver, shape.c_str(), ms, bytes / s / 1e9, flops / s / 1e12,
              pct, t_mem >= t_fp ? "mem" : "fp");
  std::fflush(stdout);
}

inline void print_skip(const char* op, const char* ver, const std::string& shape, const char* why) {
  std::printf("%-10s | %-4s | %-44s | skipped: %s\n", op, ver, shape.c_str(), why);
  std::fflush(stdout);
}

// ---- correctness ------------------------------------------------------------------------------

// Compares got against ref with |got - ref| <= atol + rtol * |ref|; prints the worst element.
inline bool check_close(const char* what, const std::vector<float>& got, const std::vector<float>& ref, double atol, double rtol) {
  size_t worst = 0;
  double worst_excess = -1e300, max_abs = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double err = std::fabs((double)got[i] - ref[i]);
    if (!std::isfinite(got[i])) {
      worst = i;
      worst_excess = 1e300;
      break;
    }
    max_abs = std::max(max_abs, err);
    const double excess = err - (atol + rtol * std::fabs((double)ref[i]));
    if (excess > worst_excess) worst_excess = excess, worst = i;
  }
  if (worst_excess > 0) {
    std::printf("CHECK FAILED %s: element %zu got %.6g expected %.6g (max abs err %.3g, tolerance %.3g + %.3g*|ref|)\n", what, worst,
                got[worst], ref[worst], max_abs, atol, rtol);
    return false;
  }
  return true;
}

inline std::vector<__half> random_half(size_t n, unsigned seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-scale, scale);
  std::vector<__half> v(n);
  for (auto& x : v) x = __float2half(d(rng));
  return v;
}

// Rows to check in a large output: all of them when few, else an evenly spread sample including
// the first and last.
inline std::vector<long> sample_rows(long rows, long max_rows = 128) {
  std::vector<long> r;
  if (rows <= max_rows) {
    for (long i = 0; i < rows; ++i) r.push_back(i);
  } else {
    for (long i = 0; i < max_rows; ++i) r.push_back(i * (rows - 1) / (max_rows - 1));
  }
  return r;
}

// Copies the given rows of a row-major [rows, cols] half matrix to the host as floats.
inline std::vector<float> download_rows(const __half* d, long cols, const std::vector<long>& rows) {
  std::vector<__half> h((size_t)cols * rows.size());
  for (size_t i = 0; i < rows.size(); ++i)
    LAB_CUDA(cudaMemcpy(h.data() + i * cols, d + (size_t)rows[i] * cols, cols * sizeof(__half), cudaMemcpyDeviceToHost));
  std::vector<float> f(h.size());
  for (size_t i = 0; i < h.size(); ++i) f[i] = __half2float(h[i]);
  return f;
}

// The CLIP activation shapes the labs sweep: (tokens, width) of each standard tower.
struct TowerShape {
  const char* name;
  int tokens, width;
};
inline const std::vector<TowerShape>& clip_towers() {
  static const std::vector<TowerShape> t = {
      {"B/32 vision", 50, 768},  {"B/16 vision", 197, 768},  {"L/14 vision", 257, 1024}, {"L/14@336 vision", 577, 1024},
      {"H/14 vision", 257, 1280}, {"B text", 77, 512},        {"L text", 77, 768},        {"H text", 77, 1024}};
  return t;
}

// Command line shared by the labs: --quick (fewer configurations, for gpu_check.sh),
// --batch 1,8,64 (batch sizes), --max-ms N (skip a version whose single launch x repeats exceeds it).
struct LabArgs {
  bool quick = false;
  std::vector<int> batches = {1, 8, 64, 256, 1024};
  double max_ms = 4000;
};
inline LabArgs parse_lab_args(int argc, char** argv, const char* usage) {
  LabArgs a;
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    if (s == "--quick") {
      a.quick = true;
      a.batches = {1, 64, 1024};
    } else if (s == "--batch" && i + 1 < argc) {
      a.batches.clear();
      std::string v = argv[++i];
      for (size_t p = 0; p < v.size();) {
        const size_t c = v.find(',', p);
        a.batches.push_back(std::atoi(v.substr(p, c - p).c_str()));
        p = c == std::string::npos ? v.size() : c + 1;
      }
    } else if (s == "--max-ms" && i + 1 < argc) {
      a.max_ms = std::atof(argv[++i]);
    } else {
      std::fprintf(stderr, "%s", usage);
      std::exit(s == "-h" || s == "--help" ? 0 : 2);
    }
  }
  return a;
}

}  // namespace lab
