#include "cpu_backend.hpp"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <vector>

#include "cuclip/cpu_ops.hpp"
#include "model.hpp"

namespace cuclip {

namespace {

cpu::Act to_cpu(Act a) { return a == Act::QuickGelu ? cpu::Act::QuickGelu : a == Act::GeluErf ? cpu::Act::GeluErf : cpu::Act::None; }

class CpuBackend final : public Backend {
 public:
  CpuBackend(const Model& m, int n_threads) : model_(m), n_threads_(n_threads > 0 ? n_threads : omp_get_num_procs()) {}
  cuclip_backend kind() const override { return CUCLIP_BACKEND_CPU; }
  cuclip_dtype dtype() const override { return CUCLIP_DTYPE_F32; }

  Status reserve(const ModelConfig& c, int max_batch) override {
    const int64_t Tv = c.vision.tokens(), Tt = c.text.context_length;
    const int64_t rows = (int64_t)max_batch * std::max(Tv, Tt);
    const int64_t C = std::max(c.vision.width, c.text.width), M = std::max(c.vision.mlp_dim, c.text.mlp_dim);
    const int64_t P = c.vision.patch_size, N = (int64_t)c.vision.grid() * c.vision.grid();
    const int64_t sizes[(int)Buf::kCount] = {rows * C, rows * C, rows * 3 * C, rows * C, rows * M,
                                             (int64_t)max_batch * N * 3 * P * P, (int64_t)max_batch * C, (int64_t)max_batch * C,
                                             (int64_t)max_batch * c.embed_dim};
    try {
      for (int i = 0; i < (int)Buf::kCount; ++i) bufs_[i].assign((size_t)sizes[i], 0.0f);
    } catch (const std::bad_alloc&) {
      return Err(CUCLIP_ERR_OUT_OF_MEMORY, "cannot allocate the CPU workspace for batch " + std::to_string(max_batch));
    }
    return Status::Ok();
  }

  // GEMM weights are handed out as packed matrices (const cpu::PackedW*), the rest as f32 arrays.
  W weight(const std::string& name) override {
    return Model::is_gemm_weight(name) ? static_cast<W>(model_.cpu_packed(name)) : static_cast<W>(model_.cpu_weight(name));
  }

  Status patch_embed(int B, int S, int P, int C, const float* pixels, W conv, Buf out) override {
    omp_set_num_threads(n_threads_);
    const int G = S / P, SG = G * P, N = G * G;
    if (SG != S) {  // the strided conv never reads the trailing S - G*P rows and columns
      cropped_.resize((size_t)B * 3 * SG * SG);
      for (int i = 0; i < B * 3; ++i)
        for (int y = 0; y < SG; ++y)
          std::memcpy(&cropped_[((size_t)i * SG + y) * SG], pixels + ((size_t)i * S + y) * S, sizeof(float) * SG);
      pixels = cropped_.data();
    }
    cpu::im2col_patches(B, SG, P, pixels, b(Buf::COLS));
    cpu::gemm_packed(B * N, packed(conv), b(Buf::COLS), 3 * P * P, nullptr, cpu::Act::None, nullptr, 0, b(out), C);
    return Status::Ok();
  }

  Status vision_tokens(int B, int N, int C, Buf patches, W cls, W pos, W ln_w, W ln_b, float eps, Buf out) override {
    const int T = N + 1;
    const float *pe = b(patches), *cl = f(cls), *ps = f(pos);
    float* o = b(out);
    for (int bi = 0; bi < B; ++bi)
      for (int t = 0; t < T; ++t) {
        const float* src = t == 0 ? cl : pe + ((size_t)bi * N + t - 1) * C;
        float* dst = o + ((size_t)bi * T + t) * C;
        for (int c = 0; c < C; ++c) dst[c] = src[c] + ps[(size_t)t * C + c];
      }
    if (ln_w) cpu::layernorm(B * T, C, o, C, f(ln_w), f(ln_b), eps, o, C);
    return Status::Ok();
  }

  Status text_tokens(int B, const int* offsets, int C, const int32_t* ids, W token_embed, W pos, Buf out) override {
    const float *te = f(token_embed), *ps = f(pos);
    float* o = b(out);
    for (int bi = 0; bi < B; ++bi)
      for (int r = offsets[bi]; r < offsets[bi + 1]; ++r) {
        const float* e = te + (size_t)ids[r] * C;
        const float* p = ps + (size_t)(r - offsets[bi]) * C;
        for (int c = 0; c < C; ++c) o[(size_t)r * C + c] = e[c] + p[c];
      }
    return Status::Ok();
  }

  Status layernorm(int rows, int C, Buf x, W w, W bias, float eps, Buf y) override {
    omp_set_num_threads(n_threads_);
    cpu::layernorm(rows, C, b(x), C, f(w), f(bias), eps, b(y), C);
    return Status::Ok();
  }

  Status gemm(int M, int N, int K, Buf A, W w, W bias, Act act, const Buf* residual, Buf out) override {
    omp_set_num_threads(n_threads_);
    cpu::gemm_packed(M, packed(w), b(A), K, f(bias), to_cpu(act), residual ? b(*residual) : nullptr, N, b(out), N);
    return Status::Ok();
  }

  Status attention(int B, const int* offsets, int max_len, int NH, int HD, Buf qkv, Buf out, bool causal) override {
    omp_set_num_threads(n_threads_);
    const size_t C = (size_t)NH * HD;
    bool uniform = true;  // equal lengths (the vision tower): one call, parallel over the whole batch
    for (int bi = 0; bi <= B; ++bi) uniform = uniform && offsets[bi] == bi * max_len;
    if (uniform) {
      cpu::attention(B, max_len, NH, HD, b(qkv), b(out), causal, nullptr);
      return Status::Ok();
    }
    for (int bi = 0; bi < B; ++bi)
      cpu::attention(1, offsets[bi + 1] - offsets[bi], NH, HD, b(qkv) + (size_t)offsets[bi] * 3 * C,
                     b(out) + (size_t)offsets[bi] * C, causal, nullptr);
    return Status::Ok();
  }

  Status gather_rows(int B, int C, Buf x, const int* rows, Buf out) override {
    for (int i = 0; i < B; ++i) std::memcpy(b(out) + (size_t)i * C, b(x) + (size_t)rows[i] * C, sizeof(float) * C);
    return Status::Ok();
  }

  Status normalize_to_host(int B, int D, Buf x, float* host_out) override {
    std::memcpy(host_out, b(x), sizeof(float) * B * D);
    cpu::l2_normalize_rows(B, D, host_out);
    return Status::Ok();
  }

 private:
  float* b(Buf id) { return bufs_[(int)id].data(); }
  static const float* f(W w) { return static_cast<const float*>(w); }
  static const cpu::PackedW& packed(W w) { return *static_cast<const cpu::PackedW*>(w); }

  const Model& model_;
  int n_threads_;
  std::vector<float> bufs_[(int)Buf::kCount];
  std::vector<float> cropped_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const Model& model, int n_threads) {
  return std::make_unique<CpuBackend>(model, n_threads);
}

}  // namespace cuclip
