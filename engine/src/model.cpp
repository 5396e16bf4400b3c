#include "model.hpp"

#include <cstring>

#include "base/half.hpp"
#include "cuclip/cpu_ops.hpp"

namespace cuclip {

img::Preset preset_from_config(const PreprocessConfig& p) {
  img::Preset r;
  r.size = p.size;
  r.resize_size = p.resize_size;
  r.resize_mode = p.resize_mode == ResizeMode::Shortest ? img::ResizeMode::Shortest
                  : p.resize_mode == ResizeMode::Squash ? img::ResizeMode::Squash : img::ResizeMode::Longest;
  r.interp = p.interpolation == Interpolation::Bicubic ? img::Interp::Bicubic
             : p.interpolation == Interpolation::Bilinear ? img::Interp::Bilinear : img::Interp::Nearest;
  for (int i = 0; i < 3; ++i) {
    r.mean[i] = p.mean[i];
    r.std[i] = p.std[i];
  }
  r.order = p.order == ConvertOrder::ResizeCropThenRgb ? img::Order::ResizeCropThenRgb : img::Order::RgbThenResizeCrop;
  r.crop_rounding = p.crop_rounding == CropRounding::Round ? img::CropRounding::Round : img::CropRounding::Floor;
  r.fill = p.fill;
  // "rgb_resize_crop" is transformers' CLIPImageProcessor, which also rescales in float64.
  r.rescale_in_float64 = p.order == ConvertOrder::RgbThenResizeCrop;
  return r;
}

Status Model::load(const std::string& path, const cuclip_model_params& params, std::unique_ptr<Model>* out) {
  LoadLimits limits;
  limits.max_header_bytes = params.max_header_bytes;
  limits.max_tensor_count = params.max_tensor_count;
  auto m = std::unique_ptr<Model>(new Model());
  CUCLIP_TRY(ModelFile::open(path, limits, &m->file_));
  if (params.verify_checksums) {
    Status s = m->file_->verify();
    if (!s.ok()) return Err(s.code, "'" + path + "': " + s.message);
  }
  Status s = tok::Tokenizer::create(tokenizer_spec_from_config(m->file_->tokenizer()), &m->tokenizer_);
  if (!s.ok()) return Err(CUCLIP_ERR_INVALID_MODEL, "'" + path + "': tokenizer: " + s.message);
  m->preset_ = preset_from_config(m->file_->preprocess());
  m->info_json_ = m->file_->info_json().dump(2);
  *out = std::move(m);
  return Status::Ok();
}

bool Model::is_gemm_weight(const std::string& name) {
  auto ends = [&](const char* suf) { return name.size() >= std::strlen(suf) && name.compare(name.size() - std::strlen(suf), std::string::npos, suf) == 0; };
  return ends("attn.qkv.weight") || ends("attn.out.weight") || ends("mlp.fc1.weight") || ends("mlp.fc2.weight") ||
         name == "vision.proj.weight" || name == "text.proj.weight" || name == "vision.patch_embed.weight";
}

// Prepares every tensor for the CPU backend once: GEMM weights packed (then their mapped pages
// released), the rest as f32 views of the mapping or widened copies.
const float* Model::cpu_weight(const std::string& name) const {
  std::call_once(cpu_once_, [this] {
    for (const TensorInfo& t : file_->tensors()) {
      std::vector<float> wide;
      const float* src;
      if (t.dtype == DType::F32) {
        src = reinterpret_cast<const float*>(t.data);  // 256-byte aligned in the mapping
      } else {
        wide.resize((size_t)t.numel());
        for (size_t i = 0; i < wide.size(); ++i) {
          uint16_t h;
          std::memcpy(&h, t.data + 2 * i, 2);
          wide[i] = t.dtype == DType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
        }
        src = wide.data();
      }
      if (is_gemm_weight(t.name)) {
        const int N = (int)t.shape[0], K = (int)(t.numel() / t.shape[0]);
        cpu_packed_[t.name] = cpu::pack_weights(N, K, src, K);
        file_->release(t);
        continue;
      }
      if (!wide.empty()) {
        cpu_widened_.push_back(std::move(wide));
        src = cpu_widened_.back().data();
      }
      cpu_ptrs_[t.name] = src;
    }
  });
  auto it = cpu_ptrs_.find(name);
  return it == cpu_ptrs_.end() ? nullptr : it->second;
}

const cpu::PackedW* Model::cpu_packed(const std::string& name) const {
  cpu_weight(name);  // builds everything on first use
  auto it = cpu_packed_.find(name);
  return it == cpu_packed_.end() ? nullptr : it->second.get();
}

Model::BackendState* Model::backend_state(const std::string& key, const std::function<std::unique_ptr<BackendState>()>& make) const {
  std::lock_guard<std::mutex> lock(state_mu_);
  auto it = states_.find(key);
  if (it != states_.end()) return it->second.get();
  auto s = make();
  BackendState* raw = s.get();
  if (s) states_[key] = std::move(s);
  return raw;
}

}  // namespace cuclip
