// Helpers of the CUDA backend's end-to-end tests (test_backend_parity.cpp, test_backend_resize.cpp):
// the backend the build tests, a context that is freed at scope exit, and a fixture's image paths.
#pragma once
#include <string>
#include <vector>

#include "common/testing.hpp"
#include "cuclip.h"
#include "fixture_models.hpp"

namespace cuclip_test {

#if defined(CUCLIP_EMU)
constexpr cuclip_backend kGpuBackend = CUCLIP_BACKEND_CUDA_EMU;  // the emulated build
#else
constexpr cuclip_backend kGpuBackend = CUCLIP_BACKEND_CUDA;
#endif

struct Ctx {
  cuclip_context* ctx = nullptr;
  Ctx(cuclip_model* m, cuclip_backend be, cuclip_dtype dt, int max_batch) {
    cuclip_context_params p = cuclip_context_default_params();
    p.backend = be;
    p.dtype = dt;
    p.max_batch = max_batch;
    const cuclip_status s = cuclip_context_create(m, p, &ctx);
    INFO(cuclip_last_error());
    REQUIRE(s == CUCLIP_OK);
  }
  Ctx(const Ctx&) = delete;
  Ctx& operator=(const Ctx&) = delete;
  ~Ctx() { cuclip_context_free(ctx); }
};

// The reference images of fixture `name` (its meta.json), in order.
inline std::vector<std::string> fixture_image_paths(const std::string& name) {
  const auto meta = read_json_file(data_path("reference/" + name + "/meta.json"));
  std::vector<std::string> paths;
  for (const auto& im : meta["images"]) paths.push_back(data_path(meta["images_dir"].get<std::string>() + "/" + im.get<std::string>()));
  return paths;
}

inline std::vector<const char*> c_strings(const std::vector<std::string>& v) {
  std::vector<const char*> out;
  for (const auto& s : v) out.push_back(s.c_str());
  return out;
}

}  // namespace cuclip_test
