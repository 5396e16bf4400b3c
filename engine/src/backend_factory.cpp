#include "backend_factory.hpp"

#include "cpu_backend.hpp"

namespace cuclip {

Status make_backend(const Model& model, const cuclip_context_params& p, std::unique_ptr<Backend>* out) {
  switch (p.backend) {
    case CUCLIP_BACKEND_AUTO:  // no CUDA backend is built into this version: AUTO is the CPU
    case CUCLIP_BACKEND_CPU:
      if (p.dtype != CUCLIP_DTYPE_AUTO && p.dtype != CUCLIP_DTYPE_F32)
        return Err(CUCLIP_ERR_UNSUPPORTED, "the CPU backend computes in f32 only (asked for " +
                                               std::string(p.dtype == CUCLIP_DTYPE_F16 ? "f16" : "bf16") + ")");
      *out = make_cpu_backend(model, p.n_threads);
      return Status::Ok();
    case CUCLIP_BACKEND_CUDA:
      return Err(CUCLIP_ERR_BACKEND_UNAVAILABLE, "the CUDA backend is not available in this build of cuclip");
    case CUCLIP_BACKEND_CUDA_EMU:
      return Err(CUCLIP_ERR_BACKEND_UNAVAILABLE, "the emulated CUDA backend is not available in this build of cuclip");
  }
  return Err(CUCLIP_ERR_INVALID_ARGUMENT, "unknown backend");
}

}  // namespace cuclip
