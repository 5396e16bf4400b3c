#include "tiny_model.hpp"

#include <cstring>
#include <random>

#include "base/checked.hpp"
#include "base/file.hpp"
#include "base/half.hpp"
#include "model_file.hpp"

namespace cuclip_test {

using namespace cuclip;

ModelConfig tiny_config() {
  ModelConfig c;
  c.embed_dim = 4;
  c.vision.image_size = 8;
  c.vision.patch_size = 4;
  c.vision.width = 8;
  c.vision.layers = 1;
  c.vision.heads = 2;
  c.vision.head_dim = 4;
  c.vision.mlp_dim = 16;
  c.text.context_length = 6;
  c.text.vocab_size = 10;
  c.text.width = 8;
  c.text.layers = 1;
  c.text.heads = 2;
  c.text.head_dim = 4;
  c.text.mlp_dim = 16;
  c.text.eot_id = 9;
  c.logit_scale = 2.0f;
  return c;
}

std::vector<uint8_t> write_tiny_model(const std::string& path, uint32_t seed) {
  ModelWriter w;
  w.config = tiny_config();
  w.file_dtype = DType::F16;
  for (int i = 0; i < 10; ++i) w.tokenizer.vocab.push_back(std::string(1, 't').append(std::to_string(i)));
  w.tokenizer.merges = {"t 1"};
  w.tokenizer.sot_id = 8;
  w.tokenizer.eot_id = 9;
  w.tokenizer.context_length = 6;
  w.preprocess.size = w.config.vision.image_size;  // the format requires it
  w.templates = {"a photo of a {}."};
  for (const auto& spec : expected_tensors(w.config)) {
    const DType dt = tensor_is_kept_f32(spec.name, spec.shape.size()) ? DType::F32 : DType::F16;
    const uint32_t s = seed + (uint32_t)std::hash<std::string>{}(spec.name);
    w.add_tensor(spec.name, dt, spec.shape, [dt, s](uint8_t* dst, uint64_t bytes) {
      std::mt19937 rng(s);
      std::uniform_real_distribution<float> u(-1, 1);
      for (uint64_t i = 0; i < bytes / dtype_size(dt); ++i) {
        float v = u(rng);
        if (dt == DType::F32) std::memcpy(dst + 4 * i, &v, 4);
        else { uint16_t h = f32_to_f16(v); std::memcpy(dst + 2 * i, &h, 2); }
      }
      return Status::Ok();
    });
  }
  Status st = w.write(path);
  if (!st.ok()) throw std::runtime_error(st.message);
  std::vector<uint8_t> b;
  st = read_file(path, 1 << 30, &b);
  if (!st.ok()) throw std::runtime_error(st.message);
  return b;
}

Parts split(const std::vector<uint8_t>& f) {
  Parts p;
  uint64_t hb, off;
  std::memcpy(&p.alignment, f.data() + 12, 4);
  std::memcpy(&hb, f.data() + 16, 8);
  std::memcpy(&off, f.data() + 32, 8);
  p.header = nlohmann::json::parse(f.begin() + 48, f.begin() + 48 + (ptrdiff_t)hb);
  p.data.assign(f.begin() + (ptrdiff_t)off, f.end());
  return p;
}

std::vector<uint8_t> join(const Parts& p) {
  const std::string hs = p.header.dump();
  const uint64_t off = align_up(48 + hs.size(), p.alignment);
  std::vector<uint8_t> f(off + p.data.size(), 0);
  std::memcpy(f.data(), kMagic, 8);
  uint32_t v32 = kFormatVersion;
  std::memcpy(f.data() + 8, &v32, 4);
  std::memcpy(f.data() + 12, &p.alignment, 4);
  uint64_t v64 = hs.size();
  std::memcpy(f.data() + 16, &v64, 8);
  v32 = crc32_of(hs.data(), hs.size());
  std::memcpy(f.data() + 24, &v32, 4);
  std::memcpy(f.data() + 32, &off, 8);
  v64 = p.data.size();
  std::memcpy(f.data() + 40, &v64, 8);
  std::memcpy(f.data() + 48, hs.data(), hs.size());
  std::memcpy(f.data() + off, p.data.data(), p.data.size());
  return f;
}

}  // namespace cuclip_test
