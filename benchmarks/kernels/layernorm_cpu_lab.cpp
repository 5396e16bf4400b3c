// LayerNorm lab, CPU edition: the same shapes and report line as layernorm_lab.cu, with the CPU
// roof measured in the same run (multi-threaded memcpy bandwidth, read + write). For the CPU GEMM
// lab (our kernel vs OpenBLAS against a measured FMA peak) see benchmarks/cpu/bench_gemm.cpp.
//
// Versions:
//   v1  naive: each row in three scalar passes (mean, variance, write), rows split across threads.
//   v2  the engine's cuclip::cpu::layernorm (what the CPU backend runs).
// Both are checked against a double-precision reference on sampled rows before timing. Timing:
// wall clock, 1 warm-up, median of 21 repeats, a buffer larger than the last-level cache written
// between repeats, inputs rotated over 3 copies.
//
// usage: cuclip_lab_layernorm_cpu [--quick] [--batch 1,8] [--threads N]
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cuclip/cpu_ops.hpp"

namespace {

constexpr int kRepeats = 21;
constexpr float kEps = 1e-5f;

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

struct CacheFlusher {
  std::vector<char> buf = std::vector<char>(size_t(128) << 20);  // larger than any LLC we run on
  unsigned tick = 0;
  void flush() {
    const char v = (char)++tick;
#pragma omp parallel for schedule(static)
    for (long i = 0; i < (long)buf.size(); i += 64) buf[i] = v;
  }
};

template <class F>
double median_ms(F&& f, CacheFlusher& fl) {
  f(0);
  std::vector<double> t;
  for (int r = 0; r < kRepeats; ++r) {
    fl.flush();
    const double t0 = now_s();
    f(r);
    t.push_back((now_s() - t0) * 1e3);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

double memcpy_gbps(CacheFlusher& fl) {
  const size_t bytes = size_t(256) << 20;
  std::vector<char> a(bytes, 1), b(bytes, 2);
  const int T = omp_get_max_threads();
  const double ms = median_ms(
      [&](int) {
#pragma omp parallel num_threads(T)
        {
          const size_t chunk = bytes / T, off = chunk * omp_get_thread_num();
          std::memcpy(b.data() + off, a.data() + off, chunk);
        }
      },
      fl);
  return 2.0 * bytes / (ms * 1e-3) / 1e9;
}

void layernorm_v1(long rows, int C, const float* x, const float* w, const float* b, float* y) {
#pragma omp parallel for schedule(static)
  for (long r = 0; r < rows; ++r) {
    const float* xr = x + r * C;
    float sum = 0;
    for (int c = 0; c < C; ++c) sum += xr[c];
    const float mean = sum / C;
    float var = 0;
    for (int c = 0; c < C; ++c) var += (xr[c] - mean) * (xr[c] - mean);
    const float rstd = 1.0f / std::sqrt(var / C + kEps);
    for (int c = 0; c < C; ++c) y[r * C + c] = (xr[c] - mean) * rstd * w[c] + b[c];
  }
}

bool check(const char* what, const float* x, const float* y, long rows, int C, const std::vector<float>& w, const std::vector<float>& b) {
  const long step = std::max(1L, rows / 64);
  for (long r = 0; r < rows; r += step) {
    double mean = 0, var = 0;
    for (int c = 0; c < C; ++c) mean += x[r * C + c];
    mean /= C;
    for (int c = 0; c < C; ++c) var += (x[r * C + c] - mean) * (x[r * C + c] - mean);
    const double rstd = 1.0 / std::sqrt(var / C + kEps);
    for (int c = 0; c < C; ++c) {
      const double ref = (x[r * C + c] - mean) * rstd * w[c] + b[c], got = y[r * C + c];
      // f32 statistics over <= 1280 values: relative error ~1e-6; 1e-4 leaves room for summation order.
      if (!(std::fabs(got - ref) <= 1e-4 + 1e-4 * std::fabs(ref))) {
        std::printf("CHECK FAILED %s: row %ld col %d got %.7g expected %.7g\n", what, r, c, got, ref);
        return false;
      }
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> batches = {1, 8, 64};
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") quick = true, batches = {1, 8};
    else if (a == "--threads" && i + 1 < argc) omp_set_num_threads(std::atoi(argv[++i]));
    else if (a == "--batch" && i + 1 < argc) {
      batches.clear();
      for (std::string v = argv[++i]; !v.empty();) {
        const size_t c = v.find(',');
        batches.push_back(std::atoi(v.substr(0, c).c_str()));
        v = c == std::string::npos ? "" : v.substr(c + 1);
      }
    } else {
      std::fprintf(stderr, "usage: %s [--quick] [--batch 1,8] [--threads N]\n", argv[0]);
      return a == "-h" || a == "--help" ? 0 : 2;
    }
  }
  CacheFlusher fl;
  const double bw = memcpy_gbps(fl);
  std::printf("# LayerNorm (f32) CPU lab, %d threads\n", omp_get_max_threads());
  std::printf("# roofs measured now: copy %.1f GB/s (memcpy, read+write, all threads)\n", bw);
  std::printf("# timing: wall clock, 1 warm-up, median of %d repeats, 128 MB written between repeats, inputs rotated\n", kRepeats);
  std::printf("%-10s | %-4s | %-44s | %10s | %9s | %8s | %s\n", "op", "ver", "shape", "ms", "GB/s", "TFLOP/s", "% of roof (bound)");
  struct Tower {
    const char* name;
    int tokens, width;
  };
  const Tower towers[] = {{"B/32 vision", 50, 768}, {"B/16 vision", 197, 768}, {"L/14 vision", 257, 1024}, {"L/14@336 vision", 577, 1024},
                          {"H/14 vision", 257, 1280}, {"B text", 77, 512}, {"L text", 77, 768}, {"H text", 77, 1024}};
  bool all_ok = true;
  for (const Tower& tw : towers) {
    if (quick && std::string(tw.name) != "B/32 vision" && std::string(tw.name) != "B text" && std::string(tw.name) != "L/14 vision") continue;
    const int C = tw.width;
    std::vector<float> w(C), b(C);
    for (int c = 0; c < C; ++c) w[c] = 1.0f + 0.1f * std::sin(0.37f * c), b[c] = 0.05f * std::cos(0.11f * c);
    for (int batch : batches) {
      const long rows = (long)batch * tw.tokens;
      std::vector<std::vector<float>> xs(3, std::vector<float>((size_t)rows * C));
      for (size_t i = 0; i < xs[0].size(); ++i) xs[0][i] = 3.0f * std::sin(0.001f * (float)i * (1 + i % 7));
      xs[1] = xs[2] = xs[0];
      std::vector<float> y((size_t)rows * C);
      char shape[96];
      std::snprintf(shape, sizeof shape, "%s b%d: %ld rows x %d", tw.name, batch, rows, C);
      const double bytes = 2.0 * 4.0 * rows * C + 8.0 * C, flops = 8.0 * rows * C;
      for (int ver = 1; ver <= 2; ++ver) {
        auto run = [&](int rep) {
          const float* x = xs[rep % 3].data();
          if (ver == 1) layernorm_v1(rows, C, x, w.data(), b.data(), y.data());
          else cuclip::cpu::layernorm((int)rows, C, x, C, w.data(), b.data(), kEps, y.data(), C);
        };
        std::fill(y.begin(), y.end(), NAN);
        run(0);
        const std::string what = std::string("layernorm v") + std::to_string(ver) + " " + shape;
        if (!check(what.c_str(), xs[0].data(), y.data(), rows, C, w, b)) {
          all_ok = false;
          continue;
        }
        const double ms = median_ms(run, fl), s = ms * 1e-3;
        std::printf("%-10s | v%-3d | %-44s | %10.4f | %9.1f | %8.4f | %5.1f%% (mem)\n", "layernorm", ver, shape, ms, bytes / s / 1e9, flops / s / 1e12,
                    100.0 * bytes / (bw * 1e9) / s);
        std::fflush(stdout);
      }
    }
  }
  return all_ok ? 0 : 1;
}
