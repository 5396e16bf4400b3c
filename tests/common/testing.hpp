// Shared helpers for cuclip's tests: fixture paths, closeness checks that print the worst element.
#pragma once
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace cuclip_test {

inline std::string data_path(const std::string& rel) { return std::string(CUCLIP_TEST_DATA_DIR) + "/" + rel; }
inline std::string binary_path(const std::string& rel) { return std::string(CUCLIP_BINARY_DIR) + "/" + rel; }

struct CloseReport {
  bool ok = true;
  size_t worst = 0;
  double max_abs = 0, max_rel = 0, worst_excess = -1;
  std::string describe(const std::vector<float>& got, const std::vector<float>& ref, double atol, double rtol) const {
    char buf[256];
    std::snprintf(buf, sizeof buf, "worst element %zu: got %.9g ref %.9g | max abs %.3g max rel %.3g | tol atol %.3g + rtol %.3g*|ref|",
                  worst, got.empty() ? 0.0 : got[worst], ref.empty() ? 0.0 : ref[worst], max_abs, max_rel, atol, rtol);
    return buf;
  }
};

// |got - ref| <= atol + rtol*|ref| element-wise; NaN anywhere fails.
inline CloseReport compare(const std::vector<float>& got, const std::vector<float>& ref, double atol, double rtol) {
  CloseReport r;
  if (got.size() != ref.size()) { r.ok = false; return r; }
  for (size_t i = 0; i < got.size(); ++i) {
    double d = std::fabs((double)got[i] - (double)ref[i]);
    double tol = atol + rtol * std::fabs((double)ref[i]);
    if (std::isnan(got[i]) || std::isnan(ref[i])) d = INFINITY;
    if (d > r.max_abs) r.max_abs = d;
    double rel = d / (std::fabs((double)ref[i]) + 1e-12);
    if (rel > r.max_rel) r.max_rel = rel;
    if (d - tol > r.worst_excess) { r.worst_excess = d - tol; r.worst = i; }
    if (!(d <= tol)) r.ok = false;
  }
  return r;
}

#define CUCLIP_REQUIRE_CLOSE(got, ref, atol, rtol)                                  \
  do {                                                                               \
    auto cuclip_rep_ = ::cuclip_test::compare((got), (ref), (atol), (rtol));        \
    INFO(cuclip_rep_.describe((got), (ref), (atol), (rtol)));                       \
    REQUIRE((got).size() == (ref).size());                                           \
    REQUIRE(cuclip_rep_.ok);                                                         \
  } while (0)

inline double cosine(const float* a, const float* b, size_t n) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < n; ++i) { ab += (double)a[i] * b[i]; aa += (double)a[i] * a[i]; bb += (double)b[i] * b[i]; }
  return ab / (std::sqrt(aa) * std::sqrt(bb) + 1e-30);
}

}  // namespace cuclip_test
