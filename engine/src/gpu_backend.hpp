// The CUDA backend (gpu_backend.cpp). One source, compiled twice (engine/gpu_backend.cmake): against
// the emulated kernels and runtime it is `cuda-emu` (always built), against nvcc's kernels, CUDA and
// cuBLASLt it is `cuda` (when CUCLIP_HAVE_CUDA; backend_factory.cpp sees CUCLIP_HAVE_CUDA_BACKEND).
#pragma once
#include <memory>

#include "backend.hpp"
#include "cuclip.h"

namespace cuclip {

// params.dtype AUTO resolves to f32 under the emulator and f16 on a GPU. Weights are uploaded on
// the first context of a (model, build, dtype) and shared by later ones (Model::backend_state).
// Errors: CUCLIP_ERR_BACKEND_UNAVAILABLE (no device, or device index out of range),
// CUCLIP_ERR_OUT_OF_MEMORY (weights), CUCLIP_ERR_DEVICE (a runtime call, named).
Status make_gpu_backend_emu(const Model& model, const cuclip_context_params& params, std::unique_ptr<Backend>* out);
Status make_gpu_backend_cuda(const Model& model, const cuclip_context_params& params, std::unique_ptr<Backend>* out);
// GPUs the CUDA build sees (0 without a device or driver); defined by the CUDA build only.
int cuda_device_count();

}  // namespace cuclip
