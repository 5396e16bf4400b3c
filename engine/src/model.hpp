// A loaded model: the validated file, its tokenizer and preprocessing preset, and backend-ready
// copies of its weights shared by every context (CPU: f32 views or widened copies).
#pragma once
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "cuclip.h"
#include "cuclip/image.hpp"
#include "cuclip/tokenizer.hpp"
#include "model_file.hpp"

namespace cuclip {

namespace cpu {
struct PackedW;  // cuclip/cpu_ops.hpp
}

class Model {
 public:
  static Status load(const std::string& path, const cuclip_model_params& params, std::unique_ptr<Model>* out);

  const ModelFile& file() const { return *file_; }
  const ModelConfig& config() const { return file_->config(); }
  const tok::Tokenizer& tokenizer() const { return *tokenizer_; }
  const img::Preset& preset() const { return preset_; }
  const std::string& info_json() const { return info_json_; }
  const std::vector<std::string>& templates() const { return file_->templates(); }

  // f32 weights for the CPU backend: f32 tensors straight from the mapping, f16/bf16 ones widened
  // once (on first use, thread-safe) and kept for the model's lifetime. Null for unknown names.
  const float* cpu_weight(const std::string& name) const;
  // GEMM weights (every [out, in] matrix and the patch-embedding conv seen as [C, 3*P*P]) packed
  // once for the CPU GEMM's microkernel; their mapped pages are released after packing, so an
  // f32 model is resident about once. Null for other names.
  const cpu::PackedW* cpu_packed(const std::string& name) const;
  static bool is_gemm_weight(const std::string& name);

  // Opaque per-backend state owned by the model (e.g. CUDA weights per device), created on demand.
  struct BackendState {
    virtual ~BackendState() = default;
  };
  BackendState* backend_state(const std::string& key, const std::function<std::unique_ptr<BackendState>()>& make) const;

 private:
  std::unique_ptr<ModelFile> file_;
  std::unique_ptr<tok::Tokenizer> tokenizer_;
  img::Preset preset_;
  std::string info_json_;
  mutable std::once_flag cpu_once_;
  mutable std::unordered_map<std::string, const float*> cpu_ptrs_;
  mutable std::vector<std::vector<float>> cpu_widened_;
  mutable std::unordered_map<std::string, std::shared_ptr<const cpu::PackedW>> cpu_packed_;
  mutable std::mutex state_mu_;
  mutable std::unordered_map<std::string, std::unique_ptr<BackendState>> states_;
};

img::Preset preset_from_config(const PreprocessConfig& p);
// The spec Model::load builds its tokenizer from. Inline so that the converter and the model-file
// fuzzer, which build the same tokenizer without linking the engine, share this one definition.
inline tok::TokenizerSpec tokenizer_spec_from_config(const TokenizerConfig& t) {
  tok::TokenizerSpec s;
  s.vocab = t.vocab;
  s.merges = t.merges;
  s.sot_id = t.sot_id;
  s.eot_id = t.eot_id;
  s.pad_id = t.pad_id;
  s.context_length = t.context_length;
  s.clean = t.clean == TextClean::OpenClip ? tok::CleanMode::OpenClip : tok::CleanMode::HfFast;
  return s;
}

}  // namespace cuclip

struct cuclip_model {
  std::unique_ptr<cuclip::Model> impl;
};
