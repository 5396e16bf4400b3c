// Helpers for the CPU op tests: random inputs, NaN-poisoned outputs, and an element-wise check with a
// per-element tolerance (so a GEMM bound can scale with sum |a*w| rather than with |result|).
#pragma once
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace cpu_test {

inline std::mt19937& rng() {
  static std::mt19937 g(12345);
  return g;
}

inline std::vector<float> random_floats(size_t n, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng());
  return v;
}

inline std::vector<float> nan_filled(size_t n) { return std::vector<float>(n, std::numeric_limits<float>::quiet_NaN()); }

// Every got[i] within tol[i] of ref[i] (NaN fails); on failure report the worst element.
inline void require_within(const std::vector<float>& got, const std::vector<double>& ref, const std::vector<double>& tol,
                           const std::string& what) {
  REQUIRE(got.size() == ref.size());
  REQUIRE(tol.size() == ref.size());
  size_t worst = 0, bad = 0;
  double worst_ratio = -1;
  for (size_t i = 0; i < got.size(); ++i) {
    double err = std::fabs(got[i] - ref[i]);
    if (std::isnan(got[i]) || std::isnan(ref[i])) err = INFINITY;
    const double ratio = err / tol[i];
    if (!(err <= tol[i])) ++bad;
    if (ratio > worst_ratio || std::isnan(ratio)) worst_ratio = ratio, worst = i;
  }
  char buf[320];
  std::snprintf(buf, sizeof buf, "%s: %zu of %zu elements out of tolerance; worst element %zu got %.9g ref %.9g tol %.3g",
                what.c_str(), bad, got.size(), worst, got.empty() ? 0.0 : got[worst], ref.empty() ? 0.0 : ref[worst],
                tol.empty() ? 0.0 : tol[worst]);
  INFO(buf);
  REQUIRE(bad == 0);
}

// Same with the usual atol + rtol*|ref| tolerance.
inline void require_close(const std::vector<float>& got, const std::vector<double>& ref, double atol, double rtol,
                          const std::string& what) {
  std::vector<double> tol(ref.size());
  for (size_t i = 0; i < ref.size(); ++i) tol[i] = atol + rtol * std::fabs(ref[i]);
  require_within(got, ref, tol, what);
}

}  // namespace cpu_test
