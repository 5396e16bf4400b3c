// The CPU backend: fp32 ops from engine/cpu (cuclip::cpu), weights from Model::cpu_weight.
#pragma once
#include <memory>

#include "backend.hpp"

namespace cuclip {

std::unique_ptr<Backend> make_cpu_backend(const Model& model, int n_threads);

}  // namespace cuclip
