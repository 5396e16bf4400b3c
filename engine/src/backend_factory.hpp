// Backend selection for a context: AUTO, CPU, CUDA, CUDA under the emulator.
#pragma once
#include <memory>

#include "backend.hpp"
#include "cuclip.h"

namespace cuclip {

Status make_backend(const Model& model, const cuclip_context_params& params, std::unique_ptr<Backend>* out);

}  // namespace cuclip
