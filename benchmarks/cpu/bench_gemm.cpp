// CPU GEMM benchmark: our packed-weight kernel vs OpenBLAS sgemm (+ our epilogue pass), on CLIP's
// layer shapes, each as a median over repeated runs (the machine is shared, so medians, not means).
// Prints one line per shape: shape | ms | GFLOP/s | % of measured peak, for both, side by side.
// The peak is measured in the same run by a register-only FMA loop on the same number of threads.
//
// usage: cuclip_bench_cpu_gemm [--threads N] [--reps R] [--quick] [--act none|quick_gelu] [--unpacked]
//                              [--isa scalar|avx2|avx512] [--best] [--cputime]
//   --unpacked times our gemm() (which packs W blocks inside the call) instead of gemm_packed().
//   --best reports the fastest run instead of the median (the uncontended capability on a busy machine).
//   --cputime times with process CPU time / threads instead of wall-clock time (see now_s()).
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "cuclip/cpu_ops.hpp"

using namespace cuclip::cpu;

namespace {

// Wall-clock time, or with --cputime the process's CPU time divided by the thread count: on a machine
// that other users keep busy, CPU time leaves out the slices in which we were not running at all
// (spin-waiting at barriers still counts, so with several threads it is only an approximation).
bool g_cputime = false;
int g_threads = 1;
double now_s() {
  if (g_cputime) {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (ts.tv_sec + ts.tv_nsec * 1e-9) / g_threads;
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// 16 independent FMA chains per thread: enough to cover FMA latency x throughput on current cores.
__attribute__((target("avx512f"), noinline)) double fma_loop_avx512(long iters) {
  __m512 acc[16];
  for (int i = 0; i < 16; ++i) acc[i] = _mm512_set1_ps(0.001f * i);
  const __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
  for (long it = 0; it < iters; ++it)
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) acc[i] = _mm512_fmadd_ps(acc[i], m, a);
  __m512 s = acc[0];
  for (int i = 1; i < 16; ++i) s = _mm512_add_ps(s, acc[i]);
  float out[16];
  _mm512_storeu_ps(out, s);
  return out[0];
}

__attribute__((target("avx2,fma"), noinline)) double fma_loop_avx2(long iters) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(0.001f * i);
  const __m256 m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f);
  for (long it = 0; it < iters; ++it)
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], m, a);
  float out[8];
  __m256 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, acc[i]);
  _mm256_storeu_ps(out, s);
  return out[0];
}

// Peak fp32 GFLOP/s on `threads` threads with the widest FMA this CPU has: the best of 40 runs of
// about half a millisecond (a peak is a maximum; other users of the machine only ever lower it, and
// runs shorter than a scheduler time slice often get through undisturbed).
double measure_peak(int threads) {
  const bool z = isa_supported(Isa::Avx512);
  if (!z && !isa_supported(Isa::Avx2)) return 0;
  const long iters = 250'000;
  const double flops_per_thread = iters * (z ? 16.0 * 16 * 2 : 12.0 * 8 * 2);
  std::vector<double> rates;
  double sink = 0;
  for (int rep = 0; rep < 40; ++rep) {
    const double t0 = now_s();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    sink += z ? fma_loop_avx512(iters) : fma_loop_avx2(iters);
    rates.push_back(flops_per_thread * threads / (now_s() - t0) / 1e9);
  }
  if (sink == 12345.0) std::printf(" ");  // keeps the loops' results alive
  return *std::max_element(rates.begin(), rates.end());
}

double time_ms(const std::function<void()>& f) {
  const double t0 = now_s();
  f();
  return (now_s() - t0) * 1e3;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Shape {
  int M, N, K;
};

}  // namespace

int main(int argc, char** argv) {
  int threads = omp_get_max_threads(), reps = 7;
  bool quick = false, unpacked = false, best = false;
  Act act = Act::None;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (a == "--reps" && i + 1 < argc) reps = std::atoi(argv[++i]);
    else if (a == "--quick") quick = true;
    else if (a == "--unpacked") unpacked = true;
    else if (a == "--best") best = true;
    else if (a == "--cputime") g_cputime = true;
    else if (a == "--isa" && i + 1 < argc) {
      const std::string n = argv[++i];
      const Isa isa = n == "scalar" ? Isa::Scalar : n == "avx2" ? Isa::Avx2 : n == "avx512" ? Isa::Avx512 : Isa::Auto;
      if (!set_gemm_isa(isa)) {
        std::fprintf(stderr, "ISA %s is not supported by this CPU\n", n.c_str());
        return 2;
      }
    }
    else if (a == "--act" && i + 1 < argc) act = std::string(argv[++i]) == "quick_gelu" ? Act::QuickGelu : Act::None;
    else {
      std::fprintf(stderr,
                   "usage: %s [--threads N] [--reps R] [--quick] [--act none|quick_gelu] [--unpacked] "
                   "[--isa scalar|avx2|avx512] [--best] [--cputime]\n",
                   argv[0]);
      return 2;
    }
  }
  omp_set_num_threads(threads);
  g_threads = threads;
  const double peak = measure_peak(threads);
  std::printf("threads %d | isa %s | measured FMA peak %.1f GFLOP/s | %s of %d runs, %s | epilogue bias%s | own = %s\n",
              threads, isa_name(gemm_isa()), peak, best ? "best" : "median", reps, g_cputime ? "CPU time" : "wall time", act == Act::QuickGelu ? "+quick_gelu" : "",
              unpacked ? "gemm() packing W per call" : "gemm_packed()");

  // (N, K) pairs of CLIP layers: qkv/out-proj-like square, MLP up, MLP down, for widths 512/768/1024.
  const std::pair<int, int> nk_all[] = {{768, 768},  {3072, 768},  {768, 3072},  {512, 512}, {2048, 512},
                                        {512, 2048}, {1024, 1024}, {4096, 1024}, {1024, 4096}};
  const std::pair<int, int> nk_quick[] = {{768, 768}, {3072, 768}, {768, 3072}, {512, 2048}};
  std::vector<Shape> shapes;
  for (int tokens : {50, 77})
    for (int batch : quick ? std::vector<int>{1, 8} : std::vector<int>{1, 8, 32}) {
      if (quick)
        for (auto [n, k] : nk_quick) shapes.push_back({tokens * batch, n, k});
      else
        for (auto [n, k] : nk_all) shapes.push_back({tokens * batch, n, k});
    }

  std::printf("%-20s | %9s %8s %6s | %9s %8s %6s | %s\n", "M x N x K", "own ms", "GFLOP/s", "%peak", "oblas ms", "GFLOP/s",
              "%peak", "own/oblas");
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> d(-1, 1);
  for (const Shape& s : shapes) {
    std::vector<float> A(static_cast<size_t>(s.M) * s.K), W(static_cast<size_t>(s.N) * s.K), bias(s.N),
        C(static_cast<size_t>(s.M) * s.N);
    for (auto& x : A) x = d(rng);
    for (auto& x : W) x = d(rng);
    for (auto& x : bias) x = d(rng);
    const double gflop = 2.0 * s.M * s.N * s.K / 1e9;
    const auto packed = pack_weights(s.N, s.K, W.data(), s.K);
    const auto run_own = [&] {
      if (unpacked)  // gemm(): packs W blocks inside the call
        gemm(s.M, s.N, s.K, A.data(), s.K, W.data(), s.K, bias.data(), act, nullptr, 0, C.data(), s.N);
      else
        gemm_packed(s.M, *packed, A.data(), s.K, bias.data(), act, nullptr, 0, C.data(), s.N);
    };
    const auto run_blas = [&] {
      set_gemm_backend(GemmBackend::OpenBlas);
      gemm(s.M, s.N, s.K, A.data(), s.K, W.data(), s.K, bias.data(), act, nullptr, 0, C.data(), s.N);
      set_gemm_backend(GemmBackend::Own);
    };
    // Interleaved, so that both see the same background load; the first round is a warm-up (page
    // faults, OpenBLAS thread start-up).
    std::vector<double> t_own, t_blas;
    for (int r = 0; r <= reps; ++r) {
      const double a = time_ms(run_own);
      const double b = have_openblas() ? time_ms(run_blas) : 0;
      if (r == 0) continue;
      t_own.push_back(a);
      t_blas.push_back(b);
    }
    const double own = best ? *std::min_element(t_own.begin(), t_own.end()) : median(t_own);
    const double blas = best ? *std::min_element(t_blas.begin(), t_blas.end()) : median(t_blas);
    char name[32];
    std::snprintf(name, sizeof name, "%dx%dx%d", s.M, s.N, s.K);
    const double own_rate = gflop / (own / 1e3), blas_rate = blas > 0 ? gflop / (blas / 1e3) : 0;
    std::printf("%-20s | %9.3f %8.1f %5.1f%% | %9.3f %8.1f %5.1f%% | %.2fx\n", name, own, own_rate,
                peak > 0 ? 100 * own_rate / peak : 0, blas, blas_rate, peak > 0 ? 100 * blas_rate / peak : 0,
                blas > 0 ? blas / own : 0);
    std::fflush(stdout);
  }
  return 0;
}
