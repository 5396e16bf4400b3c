#include "backend_factory.hpp"

#include "cpu_backend.hpp"
#include "gpu_backend.hpp"

namespace cuclip {

namespace {

Status make_cpu(const Model& model, const cuclip_context_params& p, std::unique_ptr<Backend>* out) {
  if (p.dtype != CUCLIP_DTYPE_AUTO && p.dtype != CUCLIP_DTYPE_F32)
    return Err(CUCLIP_ERR_UNSUPPORTED, "the CPU backend computes in f32 only (asked for " +
                                           std::string(p.dtype == CUCLIP_DTYPE_F16 ? "f16" : "bf16") + ")");
  *out = make_cpu_backend(model, p.n_threads);
  return Status::Ok();
}

}  // namespace

Status make_backend(const Model& model, const cuclip_context_params& p, std::unique_ptr<Backend>* out) {
  switch (p.backend) {
    case CUCLIP_BACKEND_AUTO:  // the GPU when this build has CUDA and the machine a device
#if defined(CUCLIP_HAVE_CUDA_BACKEND)
      if (cuda_device_count() > 0) return make_gpu_backend_cuda(model, p, out);
#endif
      return make_cpu(model, p, out);
    case CUCLIP_BACKEND_CPU:
      return make_cpu(model, p, out);
    case CUCLIP_BACKEND_CUDA:
#if defined(CUCLIP_HAVE_CUDA_BACKEND)
      return make_gpu_backend_cuda(model, p, out);
#else
      return Err(CUCLIP_ERR_BACKEND_UNAVAILABLE,
                 "this build of cuclip has no CUDA backend (built without the CUDA toolkit); use --backend cpu");
#endif
    case CUCLIP_BACKEND_CUDA_EMU:
      return make_gpu_backend_emu(model, p, out);
  }
  return Err(CUCLIP_ERR_INVALID_ARGUMENT, "unknown backend");
}

}  // namespace cuclip
