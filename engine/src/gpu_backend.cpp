// The CUDA backend: cuclip::Backend (backend.hpp) on cuclip::gpu and the kernels of kernels/.
//
// One source, compiled twice (engine/gpu_backend.cmake): with the emulated kernels and runtime
// (CUCLIP_EMU) it is make_gpu_backend_emu, the `cuda-emu` backend CI runs on the CPU; with nvcc's
// kernels, CUDA and cuBLASLt it is make_gpu_backend_cuda. It never calls cuda*/cublas* itself, and
// kernels/gpu.hpp and the launchers put each build's symbols in their own inline namespace, so the
// two builds of this file live side by side in one binary.
//
// Memory: weights are uploaded once per (model, build, dtype) and shared by every context through
// Model::backend_state. Each context owns a stream, a BLAS handle, one device workspace and pinned
// staging buffers, all sized at reserve(): encoding allocates nothing. Everything is enqueued on
// the context's stream; the forward's only synchronization is the download of the embeddings.
//
// Small batches replay a CUDA graph of the whole forward once its shape has been seen twice
// (gpu_forward_graphs.hpp): each op's host side runs every time, its device work goes through
// graphs_.run().
//
// Ops: LayerNorm, embeddings, pooling, attention_ref and the activation epilogue are our kernels.
// GEMMs run on cuBLASLt (gpu::gemm) with its bias epilogue, beta = 1 for the residual and our
// activation kernel after it; our tensor-core GEMM with the fused epilogues cuBLASLt lacks
// (activation, bias + residual) is the alternative (CUCLIP_GPU_GEMM=fused), slower on an H200 at
// every CLIP shape measured so far (see use_fused_gemm()).
// Attention in f16/bf16 runs on the tensor-core kernel where its head-dim rule
// allows, attention_ref otherwise (and for f32). Either fast kernel answering UNSUPPORTED falls
// back to the plain path.
#include "gpu_backend.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "gpu_forward_graphs.hpp"     // ForwardGraphs: CUDA graphs of small-batch forwards
#include "gpu_weights.hpp"            // DeviceWeights: a model's weights on the device, shared by contexts
#include "kernels/attention.hpp"      // attention_forward: fused tensor-core attention (f16/bf16)
#include "kernels/attention_ref.hpp"  // attention_ref_forward: plain attention (f32, fallback)
#include "kernels/embed.hpp"          // im2col_forward, vision_tokens_forward (+ ln_pre), text_tokens_forward
#include "kernels/epilogue.hpp"       // epilogue_forward: activation after a cuBLAS GEMM
#include "kernels/gemm.hpp"           // gemm_forward, patch_embed_gemm_forward: tensor-core GEMM, fused epilogues
#include "kernels/gpu.hpp"            // cuclip::gpu: memory, streams, cuBLASLt
#include "kernels/layernorm.hpp"      // layernorm_forward
#include "kernels/pool.hpp"           // gather_rows_forward, l2_normalize_forward
#include "kernels/resize.hpp"         // resize_crop_forward: Pillow-exact resize, crop, gray to RGB
#include "base/log.hpp"
#include "model.hpp"
#include "resize_batch.hpp"          // ResizeBatchLayout: a resize batch as staged

#if defined(CUCLIP_EMU)
#define CUCLIP_MAKE_GPU_BACKEND make_gpu_backend_emu
#else
#define CUCLIP_MAKE_GPU_BACKEND make_gpu_backend_cuda
#endif

namespace cuclip {

namespace {

#if defined(CUCLIP_EMU)
constexpr cuclip_backend kKind = CUCLIP_BACKEND_CUDA_EMU;
constexpr const char* kBuildName = "cuda-emu";
#else
constexpr cuclip_backend kKind = CUCLIP_BACKEND_CUDA;
constexpr const char* kBuildName = "cuda";
#endif

size_t dtype_bytes(gpu::DType d) { return d == gpu::DType::f32 ? 4 : 2; }
double now_us() { return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
const char* dtype_label(gpu::DType d) { return d == gpu::DType::f32 ? "f32" : d == gpu::DType::f16 ? "f16" : "bf16"; }

kernels::EpilogueAct to_kernel(Act a) {
  return a == Act::QuickGelu ? kernels::EpilogueAct::QuickGelu
         : a == Act::GeluErf ? kernels::EpilogueAct::GeluErf : kernels::EpilogueAct::None;
}

// out[rows, cols] = a[rows, k] . w[cols, k]^T, all row-major and of one dtype, as cuBLAS (column-
// major) computes it: out^T[cols, rows] = w . a^T, with op(A) = w^T read from w's [cols, k] storage.
gpu::GemmDesc row_major_abt(int rows, int cols, int k, const void* a, const void* w, void* out, gpu::DType dt) {
  gpu::GemmDesc d;
  d.trans_a = gpu::Op::T;
  d.trans_b = gpu::Op::N;
  d.m = cols;
  d.n = rows;
  d.k = k;
  d.a = w;
  d.a_type = dt;
  d.lda = k;
  d.b = a;
  d.b_type = dt;
  d.ldb = k;
  d.c = out;
  d.c_type = dt;
  d.ldc = cols;
  return d;
}

class GpuBackend final : public Backend {
 public:
  GpuBackend(const Model& m, cuclip_dtype dtype, gpu::DType dt, int device)
      : model_(m), dtype_(dtype), dt_(dt), device_(device) {
    // Which GEMM serves the fused epilogues (activation, bias + residual) in f16/bf16:
    // CUCLIP_GPU_GEMM=fused (our tensor-core kernel, one pass), cublaslt (cuBLASLt's bias epilogue,
    // then the activation kernel or a beta = 1 residual) or auto (the default, see
    // use_fused_gemm()). Read once per context; anything else is auto.
    if (const char* e = std::getenv("CUCLIP_GPU_GEMM")) {
      if (std::strcmp(e, "fused") == 0) gemm_policy_ = GemmPolicy::Fused;
      else if (std::strcmp(e, "cublaslt") == 0) gemm_policy_ = GemmPolicy::CublasLt;
    }
    // CUCLIP_GPU_GRAPHS=0: no CUDA graphs (small-batch forwards launch every op), for measuring
    // what they save.
    if (const char* e = std::getenv("CUCLIP_GPU_GRAPHS"); e && std::strcmp(e, "0") == 0) graphs_.set_enabled(false);
    // CUCLIP_GPU_RESIZE=0: images are resized on the host (as before the device resize), for
    // measuring what it saves; CUCLIP_GPU_RESIZE_BUDGET=bytes: the staging budget (tests use a
    // small one to send items past it the host's way).
    if (const char* e = std::getenv("CUCLIP_GPU_RESIZE"); e && std::strcmp(e, "0") == 0) device_resize_ = false;
    // CUCLIP_GPU_TIMING=1: an info message per forward with its host and device-wait times.
    if (const char* e = std::getenv("CUCLIP_GPU_TIMING"); e && std::strcmp(e, "1") == 0) timing_ = true;
    if (const char* e = std::getenv("CUCLIP_GPU_RESIZE_BUDGET"); e && *e) resize_budget_override_ = std::strtoull(e, nullptr, 10);
  }
  GpuBackend(const GpuBackend&) = delete;
  GpuBackend& operator=(const GpuBackend&) = delete;

  ~GpuBackend() override {
    (void)gpu::set_device(device_);
    if (stream_) (void)gpu::stream_synchronize(stream_);
    release_workspace();
    if (blas_) (void)gpu::blas_destroy(blas_);
    if (stream_) (void)gpu::stream_destroy(stream_);
  }

  cuclip_backend kind() const override { return kKind; }
  cuclip_dtype dtype() const override { return dtype_; }

  Status activate() override { return gpu::set_device(device_); }

  // The stream, the BLAS handle and the shared weights (uploaded by the first context on this
  // device), all on the context's device.
  Status init() {
    CUCLIP_TRY(gpu::set_device(device_));
    CUCLIP_TRY(gpu::stream_create(&stream_));
    CUCLIP_TRY(gpu::blas_create(&blas_));
    Status upload_status;
    const std::string key = std::string("gpu-weights/") + kBuildName + "/" + dtype_label(dt_) + "/device" + std::to_string(device_);
    Model::BackendState* st = model_.backend_state(key, [&]() -> std::unique_ptr<Model::BackendState> {
      auto w = std::make_unique<DeviceWeights>();
      upload_status = w->load(model_, dt_, stream_);
      if (!upload_status.ok()) return nullptr;
      return w;
    });
    if (!upload_status.ok()) return Err(upload_status.code, "uploading the weights: " + upload_status.message);
    weights_ = static_cast<DeviceWeights*>(st);
    return weights_ ? Status::Ok() : Err(CUCLIP_ERR_INTERNAL, "the weights of this model are missing");
  }

  Status reserve(const ModelConfig& c, int max_batch) override {
    CUCLIP_TRY(gpu::set_device(device_));
    release_workspace();
    const size_t Tv = (size_t)c.vision.tokens(), L = (size_t)c.text.context_length, mb = (size_t)max_batch;
    const size_t rows = mb * std::max(Tv, L);
    const size_t C = (size_t)std::max(c.vision.width, c.text.width), M = (size_t)std::max(c.vision.mlp_dim, c.text.mlp_dim);
    const size_t P = (size_t)c.vision.patch_size, N = (size_t)c.vision.grid() * c.vision.grid(), S = (size_t)c.vision.image_size;
    const size_t es = dtype_bytes(dt_);
    const size_t elems[(int)Buf::kCount] = {rows * C, rows * C, rows * 3 * C, rows * C, rows * M,
                                            mb * N * 3 * P * P, mb * C, mb * C, mb * (size_t)c.embed_dim};
    max_batch_ = max_batch;
    max_text_rows_ = mb * L;
    pixels_per_item_ = 3 * S * S;
    std::vector<Region> regions;
    for (int i = 0; i < (int)Buf::kCount; ++i) regions.push_back({&bufs_[i], elems[i] * es});
    regions.push_back({(void**)&d_pixels_, mb * pixels_per_item_ * sizeof(float)});  // f32, or uint8 in its first quarter
    regions.push_back({(void**)&d_lut_, 3 * 256 * sizeof(float)});
    regions.push_back({(void**)&d_ints_, 2 * max_text_rows_ * sizeof(int32_t)});
    regions.push_back({(void**)&d_offsets_, (mb + 1) * sizeof(int32_t)});
    regions.push_back({(void**)&d_pool_rows_, mb * sizeof(int32_t)});
    regions.push_back({(void**)&d_emb_, mb * (size_t)c.embed_dim * sizeof(float)});
    Status s = allocate_device(regions);
    if (!s.ok()) return Err(s.code, "reserving the workspace for batch " + std::to_string(max_batch) + ": " + s.message);
    const size_t pinned[kStages] = {mb * pixels_per_item_ * sizeof(float), 2 * max_text_rows_ * sizeof(int32_t),
                                    (mb + 1) * sizeof(int32_t), mb * sizeof(int32_t), 3 * 256 * sizeof(float)};
    for (int i = 0; i < kStages; ++i) CUCLIP_TRY(gpu::host_alloc_pinned(&staging_[i], pinned[i]));
    CUCLIP_TRY(gpu::host_alloc_pinned((void**)&h_emb_, mb * (size_t)c.embed_dim * sizeof(float)));
    return Status::Ok();
  }

  W weight(const std::string& name) override {
    auto it = weights_->by_name.find(name);
    return it == weights_->by_name.end() ? nullptr : it->second;
  }

  // The first op of a vision forward.
  Status patch_embed(int B, int S, int P, int C, const float* host_pixels, W conv, Buf out) override {
    CUCLIP_TRY(check_batch("patch_embed", B));
    shape_key_.assign({kKeyF32Pixels, B, tail_id_, tail_top_k_});
    begin_forward(shape_key_, B);
    CUCLIP_TRY(stage(kPixels, host_pixels, (size_t)B * 3 * S * S * sizeof(float), d_pixels_));
    CUCLIP_TRY(graphs_.run([=, this] { return kernels::im2col_forward(dt_, B, S, P, d_pixels_, buf(Buf::COLS), stream_); }));
    const int G = S / P;
    return gemm(B * G * G, C, 3 * P * P, Buf::COLS, conv, nullptr, Act::None, nullptr, out);
  }

  // The first op of a vision forward from uint8 images: a quarter of the float upload, normalized
  // (through the host's exact table) inside the im2col kernel.
  bool takes_u8_pixels() const override { return true; }
  void* pixel_staging(size_t bytes) override {
    if (!staging_[kPixels] || bytes > (size_t)max_batch_ * pixels_per_item_ * sizeof(float)) return nullptr;
    // The caller writes into it now: the upload of the previous forward must have completed (every
    // forward ends waiting for the device, so this only waits after a failed one).
    if (!claim(kPixels).ok()) return nullptr;
    staged_[kPixels] = false;  // claimed for writing; stage() claims it again for the upload
    return staging_[kPixels];
  }
  Status patch_embed_u8(int B, int S, int P, int C, const uint8_t* host_rgb, const float* lut, W conv, Buf out) override {
    CUCLIP_TRY(check_batch("patch_embed_u8", B));
    shape_key_.assign({kKeyU8Pixels, B, tail_id_, tail_top_k_});
    begin_forward(shape_key_, B);
    CUCLIP_TRY(stage(kLut, lut, 3 * 256 * sizeof(float), d_lut_));
    CUCLIP_TRY(stage(kPixels, host_rgb, (size_t)B * 3 * S * S, d_pixels_));
    return patch_gemm_u8(B, S, P, C, reinterpret_cast<const uint8_t*>(d_pixels_), conv, out);
  }

  // The patch GEMM from uint8 images on the device. With the fused-GEMM policy our tensor-core GEMM
  // builds the im2col rows in shared memory (implicit im2col: the column matrix never goes through
  // global memory); otherwise, and where that kernel does not apply (f32, P not a multiple of 8),
  // im2col_u8 writes the columns and cuBLASLt multiplies them.
  Status patch_gemm_u8(int B, int S, int P, int C, const uint8_t* rgb, W conv, Buf out) {
    const int G = S / P;
    if (dt_ != gpu::DType::f32 && P % 8 == 0 && use_fused_gemm(B * G * G, C, 3 * P * P))
      return graphs_.run([=, this] {
        return kernels::patch_embed_gemm_forward(dt_, B, S, P, rgb, d_lut_, C, conv, buf(out), stream_);
      });
    CUCLIP_TRY(graphs_.run([=, this] { return kernels::im2col_u8_forward(dt_, B, S, P, rgb, d_lut_, buf(Buf::COLS), stream_); }));
    return gemm(B * G * G, C, 3 * P * P, Buf::COLS, conv, nullptr, Act::None, nullptr, out);
  }

  // The first op of a vision forward from decoded images: one upload of the batch's layout (items,
  // taps, source windows), the two resize passes into the uint8 images patch_embed_u8 uploads,
  // then the same. The resize is enqueued directly, not recorded (its sizes change with every
  // batch); the graph's first op reads the images it leaves in d_pixels_.
  bool resizes_on_device() const override { return device_resize_; }
  size_t resize_budget() const override {
    if (resize_budget_override_) return resize_budget_override_;
    // Room for a batch of photos of a few times the model's resolution (a 500 x 375 JPEG's window
    // and intermediate image take about 4.5x the 224 x 224 x 3 result), at least 64 MiB so that a
    // few 4K frames also fit. Larger items go the host's way.
    return std::max<size_t>(size_t{64} << 20, 6 * (size_t)max_batch_ * pixels_per_item_);
  }
  uint8_t* resize_staging(size_t staged_bytes, size_t tmp_bytes) override {
    if (staged_bytes + tmp_bytes > resize_budget() || max_batch_ < 1) return nullptr;
    if (!h_resize_) {  // allocated on the first image batch (text-only contexts never pay for it)
      const size_t budget = resize_budget();
      if (!gpu::set_device(device_).ok() || !gpu::device_alloc((void**)&d_resize_, budget).ok()) {
        d_resize_ = nullptr;
        return nullptr;
      }
      if (!gpu::host_alloc_pinned((void**)&h_resize_, budget).ok()) {
        (void)gpu::device_free(d_resize_);
        d_resize_ = nullptr;
        h_resize_ = nullptr;
        return nullptr;
      }
    }
    // The host writes into it now: the upload of the previous batch must be complete.
    if (resize_upload_pending_ && !gpu::stream_synchronize(stream_).ok()) return nullptr;
    resize_upload_pending_ = false;
    return h_resize_;
  }
  Status patch_embed_resized(int B, int S, int P, int C, const ResizeBatchLayout& layout, const float* lut, W conv,
                             Buf out) override {
    CUCLIP_TRY(check_batch("patch_embed_resized", B));
    if (!h_resize_ || layout.count() != B || layout.staged_bytes + layout.tmp_bytes > resize_budget())
      return Err(CUCLIP_ERR_INTERNAL, "patch_embed_resized: the batch is not laid out in this backend's staging");
    shape_key_.assign({kKeyResized, B, tail_id_, tail_top_k_});
    begin_forward(shape_key_, B);
    // Enqueued now, outside graphs_.run: a recorded graph is captured (and a replayed one launched)
    // only when the forward finishes, after this.
    uint8_t* rgb = reinterpret_cast<uint8_t*>(d_pixels_);
    resize_upload_pending_ = true;
    CUCLIP_TRY(gpu::memcpy_h2d(d_resize_, h_resize_, layout.staged_bytes, stream_));
    const uint8_t* base = d_resize_;
    CUCLIP_TRY(kernels::resize_crop_forward(B, S, reinterpret_cast<const ResizeItem*>(base), layout.max_pass1,
                                            reinterpret_cast<const int32_t*>(base + layout.taps_off),
                                            base + layout.src_off, d_resize_ + layout.staged_bytes, rgb, stream_));
    CUCLIP_TRY(stage(kLut, lut, 3 * 256 * sizeof(float), d_lut_));
    return patch_gemm_u8(B, S, P, C, rgb, conv, out);
  }

  Status vision_tokens(int B, int N, int C, Buf patches, W cls, W pos, W ln_w, W ln_b, float eps, Buf out) override {
    CUCLIP_TRY(check_batch("vision_tokens", B));
    return graphs_.run([=, this] {
      return kernels::vision_tokens_forward(dt_, B, N, C, buf(patches), f32(cls), f32(pos), f32(ln_w), f32(ln_b), eps,
                                            buf(out), stream_);
    });
  }

  // The first op of a text forward.
  Status text_tokens(int B, const int* offsets, int C, const int32_t* ids, W token_embed, W pos, Buf out) override {
    CUCLIP_TRY(check_batch("text_tokens", B));
    const size_t rows = (size_t)offsets[B];
    if (rows > max_text_rows_) return Err(CUCLIP_ERR_INTERNAL, "text_tokens: more rows than reserved");
    shape_key_.assign({kKeyText, B});
    shape_key_.insert(shape_key_.end(), offsets, offsets + B + 1);
    begin_forward(shape_key_, B);
    CUCLIP_TRY(claim(kInts));
    int32_t* staged = static_cast<int32_t*>(staging_[kInts]);
    std::memcpy(staged, ids, rows * sizeof(int32_t));
    for (int b = 0; b < B; ++b)
      for (int r = offsets[b]; r < offsets[b + 1]; ++r) staged[rows + (size_t)r] = r - offsets[b];
    return graphs_.run([=, this] {
      CUCLIP_TRY(gpu::memcpy_h2d(d_ints_, staged, 2 * rows * sizeof(int32_t), stream_));
      return kernels::text_tokens_forward(dt_, (int)rows, C, d_ints_, d_ints_ + rows, token_embed, f32(pos), buf(out),
                                          stream_);
    });
  }

  Status layernorm(int rows, int C, Buf x, W w, W b, float eps, Buf y) override {
    return graphs_.run([=, this] { return kernels::layernorm_forward(dt_, rows, C, buf(x), f32(w), f32(b), eps, buf(y), stream_); });
  }

  Status gemm(int M, int N, int K, Buf A, W w, W bias, Act act, const Buf* residual, Buf out) override {
    if (act != Act::None && residual)
      return Err(CUCLIP_ERR_UNSUPPORTED, "gemm: an activation followed by a residual add is not supported");
    const void* bias_in_dt = nullptr;
    if (bias) {
      auto it = weights_->bias_in_dtype.find(bias);
      if (it == weights_->bias_in_dtype.end()) return Err(CUCLIP_ERR_INTERNAL, "gemm: the bias is not a GEMM bias");
      bias_in_dt = it->second;
    }
    const bool has_residual = residual != nullptr;
    const Buf res = residual ? *residual : out;
    return graphs_.run([=, this] { return gemm_device(M, N, K, A, w, bias, bias_in_dt, act, has_residual, res, out); });
  }

  Status attention(int B, const int* offsets, int max_len, int NH, int HD, Buf qkv, Buf out, bool causal) override {
    CUCLIP_TRY(check_batch("attention", B));
    const size_t bytes = ((size_t)B + 1) * sizeof(int32_t);
    if (graphs_.mode() != ForwardGraphs::Mode::Eager) {
      // The upload is part of the graph: once per forward, known done only when the forward is.
      if (!graph_offsets_staged_) CUCLIP_TRY(stage(kOffsets, offsets, bytes, d_offsets_));
      graph_offsets_staged_ = true;
      graph_offsets_.assign(offsets, offsets + B + 1);
    } else if (uploaded_offsets_.size() != (size_t)B + 1 || !std::equal(offsets, offsets + B + 1, uploaded_offsets_.begin())) {
      uploaded_offsets_.clear();
      CUCLIP_TRY(stage(kOffsets, offsets, bytes, d_offsets_));
      uploaded_offsets_.assign(offsets, offsets + B + 1);
    }
    return graphs_.run([=, this]() -> Status {
      if (dt_ != gpu::DType::f32 && HD % 8 == 0 && HD <= 128 && B <= 65535) {  // the tensor-core kernel's domain
        Status s = kernels::attention_forward(dt_, buf(qkv), buf(out), d_offsets_, B, max_len, NH, HD, causal, stream_);
        if (s.code != CUCLIP_ERR_UNSUPPORTED) return s;
      }
      return kernels::attention_ref_forward(dt_, buf(qkv), buf(out), d_offsets_, B, max_len, NH, HD, causal, stream_);
    });
  }

  Status gather_rows(int B, int C, Buf x, const int* rows, Buf out) override {
    CUCLIP_TRY(check_batch("gather_rows", B));
    CUCLIP_TRY(stage(kPoolRows, rows, (size_t)B * sizeof(int32_t), d_pool_rows_));
    return graphs_.run([=, this] { return kernels::gather_rows_forward(dt_, B, C, buf(x), d_pool_rows_, buf(out), stream_); });
  }

  // The last op of every forward (or zero_shot_to_host): the only point where the host waits for
  // the device.
  Status normalize_to_host(int B, int D, Buf x, float* host_out) override {
    CUCLIP_TRY(check_batch("normalize_to_host", B));
    CUCLIP_TRY(graphs_.run([=, this] {
      CUCLIP_TRY(kernels::l2_normalize_forward(dt_, B, D, buf(x), d_emb_, stream_));
      return gpu::memcpy_d2h(h_emb_, d_emb_, (size_t)B * D * sizeof(float), stream_);
    }));
    CUCLIP_TRY(finish_forward());
    std::memcpy(host_out, h_emb_, (size_t)B * D * sizeof(float));
    return Status::Ok();
  }

  // The zero-shot head: the classifier's unit rows and the logits live on the device, so an image
  // batch ends in B x K probabilities (normalize, one f32 GEMM, softmax) instead of B x D embeddings
  // and a GEMM on the host.
  class GpuHead final : public ZeroShotHead {
   public:
    ~GpuHead() override {
      (void)gpu::set_device(device);
      (void)gpu::device_free(cls);
      (void)gpu::device_free(logits);
      (void)gpu::host_free_pinned(pinned);
      (void)gpu::device_free(top);
      if (top_pinned) (void)gpu::host_free_pinned(top_pinned);
    }
    float* cls = nullptr;     // device f32 [K, D], unit rows
    float* logits = nullptr;  // device f32 [max_batch, K]: logits, then probabilities
    float* pinned = nullptr;  // host f32 [max_batch, K]
    // The top-k selection's output, device and pinned host int32 [max_batch, K] (indices, then as
    // many probabilities), allocated by the first top-k forward.
    mutable int32_t* top = nullptr;
    mutable int32_t* top_pinned = nullptr;
    int K = 0, id = 0, device = 0;
  };

  bool has_zero_shot_head() const override { return true; }

  Status make_zero_shot_head(const float* cls, int K, int D, std::unique_ptr<ZeroShotHead>* out) override {
    if (K < 1 || D < 1 || max_batch_ < 1) return Err(CUCLIP_ERR_INTERNAL, "make_zero_shot_head: empty classifier or no workspace");
    CUCLIP_TRY(gpu::set_device(device_));
    auto h = std::make_unique<GpuHead>();
    h->K = K;
    h->id = ++heads_made_;
    h->device = device_;
    const size_t cls_bytes = (size_t)K * D * sizeof(float), out_bytes = (size_t)max_batch_ * K * sizeof(float);
    CUCLIP_TRY(gpu::device_alloc((void**)&h->cls, cls_bytes));
    CUCLIP_TRY(gpu::device_alloc((void**)&h->logits, out_bytes));
    CUCLIP_TRY(gpu::host_alloc_pinned((void**)&h->pinned, out_bytes));
    CUCLIP_TRY(gpu::memcpy_h2d(h->cls, cls, cls_bytes, stream_));
    CUCLIP_TRY(gpu::stream_synchronize(stream_));
    *out = std::move(h);
    return Status::Ok();
  }

  void set_forward_tail(const ZeroShotHead* head, int top_k) override {
    tail_id_ = head ? static_cast<const GpuHead*>(head)->id : 0;
    tail_top_k_ = head ? top_k : 0;
  }

  Status zero_shot_to_host(int B, int D, Buf x, const ZeroShotHead& head, float scale, float bias, int top_k,
                           float* host_probs, int32_t* host_idx) override {
    CUCLIP_TRY(check_batch("zero_shot_to_host", B));
    const GpuHead* h = static_cast<const GpuHead*>(&head);
    const int K = h->K;
    if (top_k < 0 || top_k > K || top_k != tail_top_k_ || (top_k > 0 && !host_idx))
      return Err(CUCLIP_ERR_INTERNAL, "zero_shot_to_host: top_k " + std::to_string(top_k) + " does not match the forward");
    const size_t pairs = 2 * (size_t)max_batch_ * K;  // top-k indices [B, k], then probabilities [B, k]
    if (top_k > 0 && !h->top) {
      CUCLIP_TRY(gpu::device_alloc((void**)&h->top, pairs * sizeof(int32_t)));
      CUCLIP_TRY(gpu::host_alloc_pinned((void**)&h->top_pinned, pairs * sizeof(int32_t)));
    }
    const size_t rows_k = (size_t)B * top_k;
    CUCLIP_TRY(graphs_.run([=, this] {
      CUCLIP_TRY(kernels::l2_normalize_forward(dt_, B, D, buf(x), d_emb_, stream_));
      // logits[B, K] = emb[B, D] . cls[K, D]^T
      CUCLIP_TRY(gpu::gemm(blas_, row_major_abt(B, K, D, d_emb_, h->cls, h->logits, gpu::DType::f32), stream_));
      CUCLIP_TRY(kernels::softmax_rows_forward(B, K, scale, bias, h->logits, stream_));
      if (top_k == 0) return gpu::memcpy_d2h(h->pinned, h->logits, (size_t)B * K * sizeof(float), stream_);
      float* top_p = reinterpret_cast<float*>(h->top + rows_k);
      CUCLIP_TRY(kernels::top_k_rows_forward(B, K, top_k, h->logits, h->top, top_p, stream_));
      return gpu::memcpy_d2h(h->top_pinned, h->top, 2 * rows_k * sizeof(int32_t), stream_);
    }));
    CUCLIP_TRY(finish_forward());
    if (top_k == 0) {
      std::memcpy(host_probs, h->pinned, (size_t)B * K * sizeof(float));
    } else {
      std::memcpy(host_idx, h->top_pinned, rows_k * sizeof(int32_t));
      std::memcpy(host_probs, h->top_pinned + rows_k, rows_k * sizeof(float));
    }
    return Status::Ok();
  }

 private:
  // A new forward of this shape begins: choose eager, recording or replaying (gpu_forward_graphs.hpp).
  void begin_forward(const std::vector<int>& key, int B) {
    forward_t0_ = timing_ ? now_us() : 0.0;
    forward_batch_ = B;
    graphs_.begin(key, B);
    graph_offsets_staged_ = false;
    // A recorded or replayed forward uploads its offsets inside the graph: until it has completed,
    // what the device holds is unknown.
    if (graphs_.mode() != ForwardGraphs::Mode::Eager) uploaded_offsets_.clear();
  }

  // out[M, N] = act(A . W^T + bias) (+ residual), row-major (row_major_abt).
  Status gemm_device(int M, int N, int K, Buf A, W w, W bias, const void* bias_in_dt, Act act, bool has_residual,
                     Buf residual, Buf out) {
    if (M == 0) return Status::Ok();
    if (dt_ != gpu::DType::f32 && bias) {
      const kernels::Epilogue epi = has_residual ? kernels::Epilogue::BiasResidual
                                    : act == Act::QuickGelu ? kernels::Epilogue::BiasQuickGelu
                                    : act == Act::GeluErf ? kernels::Epilogue::BiasGeluErf : kernels::Epilogue::Bias;
      // Plain bias GEMMs stay on cuBLASLt, whose fused BIAS epilogue serves them well.
      if (epi != kernels::Epilogue::Bias && K % 8 == 0 && use_fused_gemm(M, N, K)) {
        Status s = kernels::gemm_forward(dt_, M, N, K, buf(A), w, f32(bias), epi, has_residual ? buf(residual) : nullptr,
                                         buf(out), stream_);
        if (s.code != CUCLIP_ERR_UNSUPPORTED) return s;
      }
    }
    gpu::GemmDesc d = row_major_abt(M, N, K, buf(A), w, buf(out), dt_);
    if (has_residual) {
      if (buf(residual) != buf(out))
        CUCLIP_TRY(gpu::memcpy_d2d(buf(out), buf(residual), (size_t)M * N * dtype_bytes(dt_), stream_));
      d.beta = 1.0f;
    }
    if (bias_in_dt) {
      d.epilogue = gpu::Epilogue::bias;
      d.bias = bias_in_dt;
    }
    CUCLIP_TRY(gpu::gemm(blas_, d, stream_));
    if (act == Act::None) return Status::Ok();
    return kernels::epilogue_forward(dt_, M, N, nullptr, to_kernel(act), nullptr, buf(out), stream_);
  }

  // The first element of a forward's graph key: how its input arrives. Forwards of one batch size
  // record different device work for each (the float and uint8 paths upload their pixels inside
  // the graph, the resized path before it), so a graph must never be replayed for another kind.
  enum KeyKind { kKeyF32Pixels, kKeyText, kKeyU8Pixels, kKeyResized };

  enum class GemmPolicy { Auto, Fused, CublasLt };

  // Auto = cuBLASLt, by measurement (H200, benchmarks/results/gpu-h200-2026-11-30/): its bias GEMM
  // ran at 81-93% of the f16 roof at batch 1024 and 3x faster than our fused kernel even at batch 1
  // (B/32 mlp_up 50x3072x768: 8 us vs 22 us), so the extra pass of the separate activation kernel
  // or of the residual copy costs less than our kernel loses in its main loop. End to end, with
  // cuBLASLt: ViT-B/32 images 1.2-1.5x, ViT-L/14 images 1.6-2.1x, texts 1.6-1.9x the fused
  // kernel's throughput at batches 8-256. CUCLIP_GPU_GEMM=fused keeps the fused kernel reachable.
  bool use_fused_gemm(int, int, int) const { return gemm_policy_ == GemmPolicy::Fused; }

  // After the forward's last device work is enqueued: end the recording or replay, wait, and mark
  // every staged upload complete.
  Status finish_forward() {
    const char* mode = graphs_.mode() == ForwardGraphs::Mode::Eager ? "eager" : graphs_.mode() == ForwardGraphs::Mode::Recording ? "recording a graph" : "graph replay";
    CUCLIP_TRY(graphs_.finish(stream_));
    const double enqueued = timing_ ? now_us() : 0.0;
    CUCLIP_TRY(gpu::stream_synchronize(stream_));
    if (timing_) {
      // CUCLIP_GPU_TIMING=1: where a forward's wall time goes (host side of the ops vs waiting for
      // the device), as info messages; the rest of a call's time is the host's preprocessing.
      char line[200];
      std::snprintf(line, sizeof line, "gpu timing: forward B=%d (%s): %.1f us enqueuing on the host, %.1f us waiting for the device",
                    forward_batch_, mode, enqueued - forward_t0_, now_us() - enqueued);
      log_message(CUCLIP_LOG_INFO, line);
    }
    std::fill(std::begin(staged_), std::end(staged_), false);  // every staged upload has completed
    resize_upload_pending_ = false;
    if (graph_offsets_staged_) uploaded_offsets_.swap(graph_offsets_);
    graph_offsets_staged_ = false;
    return Status::Ok();
  }

  struct Region {
    void** ptr;
    size_t bytes;
  };
  // Pinned host buffers that inputs pass through on their way to the device.
  enum Stage { kPixels, kInts, kOffsets, kPoolRows, kLut, kStages };

  // The workspace: one allocation on a GPU. The emulator gives each region its own, so that its
  // guard pages catch a kernel running past the end of any buffer; sizes are rounded up to 16 bytes
  // because the emulator aligns an allocation's start only as far as its size allows, and the
  // tensor-core kernels need 16-byte aligned operands (as the GPU's 256-byte alignment gives).
  Status allocate_device(const std::vector<Region>& regions) {
#if defined(CUCLIP_EMU)
    for (const Region& r : regions) {
      void* p = nullptr;
      CUCLIP_TRY(gpu::device_alloc(&p, std::max<size_t>((r.bytes + 15) / 16 * 16, 16)));
      arenas_.push_back(p);
      *r.ptr = p;
    }
#else
    constexpr size_t kAlign = 256;
    size_t total = 0;
    for (const Region& r : regions) total += (r.bytes + kAlign - 1) / kAlign * kAlign;
    void* base = nullptr;
    CUCLIP_TRY(gpu::device_alloc(&base, std::max<size_t>(total, 1)));
    arenas_.push_back(base);
    size_t offset = 0;
    for (const Region& r : regions) {
      *r.ptr = static_cast<char*>(base) + offset;
      offset += (r.bytes + kAlign - 1) / kAlign * kAlign;
    }
#endif
    return Status::Ok();
  }

  void release_workspace() {
    graphs_.clear();
    for (void* p : arenas_) (void)gpu::device_free(p);
    arenas_.clear();
    for (void*& p : staging_) {
      if (p) (void)gpu::host_free_pinned(p);
      p = nullptr;
    }
    if (h_emb_) (void)gpu::host_free_pinned(h_emb_);
    h_emb_ = nullptr;
    if (h_resize_) (void)gpu::host_free_pinned(h_resize_);
    if (d_resize_) (void)gpu::device_free(d_resize_);
    h_resize_ = d_resize_ = nullptr;
    resize_upload_pending_ = false;
    uploaded_offsets_.clear();
  }

  // Staging buffer s is about to be rewritten: if a copy enqueued from it may still be pending, wait.
  Status claim(Stage s) {
    if (staged_[s]) {
      CUCLIP_TRY(gpu::stream_synchronize(stream_));
      std::fill(std::begin(staged_), std::end(staged_), false);
    }
    staged_[s] = true;
    return Status::Ok();
  }

  // Copies host input into pinned staging now; the upload from there is device work.
  Status stage(Stage s, const void* host, size_t bytes, void* dev) {
    CUCLIP_TRY(claim(s));
    // Already there when written through pixel_staging; memmove: the batch may start a few items in.
    if (host != staging_[s]) std::memmove(staging_[s], host, bytes);
    const void* src = staging_[s];
    return graphs_.run([=, this] { return gpu::memcpy_h2d(dev, src, bytes, stream_); });
  }

  Status check_batch(const char* op, int B) const {
    if (B < 0 || B > max_batch_)
      return Err(CUCLIP_ERR_INTERNAL, std::string(op) + ": batch " + std::to_string(B) + " outside the reserved " +
                                          std::to_string(max_batch_));
    return Status::Ok();
  }

  void* buf(Buf b) const { return bufs_[(int)b]; }
  static const float* f32(W w) { return static_cast<const float*>(w); }

  const Model& model_;
  GemmPolicy gemm_policy_ = GemmPolicy::Auto;
  const cuclip_dtype dtype_;
  const gpu::DType dt_;
  const int device_;
  int heads_made_ = 0;  // zero-shot heads made by this context (their ids)
  int tail_id_ = 0;     // the head the current forward ends in (0: embeddings), part of its graph key
  int tail_top_k_ = 0;  // and how many classes per image it returns (0: all probabilities)
  DeviceWeights* weights_ = nullptr;  // owned by the model
  gpu::Stream stream_ = nullptr;
  gpu::Blas blas_ = nullptr;

  int max_batch_ = 0;
  size_t max_text_rows_ = 0, pixels_per_item_ = 0;
  std::vector<void*> arenas_;
  void* bufs_[(int)Buf::kCount] = {};
  float* d_pixels_ = nullptr;
  float* d_lut_ = nullptr;  // the normalization table of patch_embed_u8
  int32_t* d_ints_ = nullptr;  // text ids, then their positions
  int32_t* d_offsets_ = nullptr;
  int32_t* d_pool_rows_ = nullptr;
  float* d_emb_ = nullptr;
  void* staging_[kStages] = {};
  bool staged_[kStages] = {};
  float* h_emb_ = nullptr;
  uint8_t* h_resize_ = nullptr;  // pinned staging of device-resize batches (resize_budget() bytes)
  uint8_t* d_resize_ = nullptr;  // its device copy, then the intermediate images
  bool resize_upload_pending_ = false;
  bool device_resize_ = true;
  bool timing_ = false;
  double forward_t0_ = 0.0;  // when the current forward's first op started (timing_ only), us
  int forward_batch_ = 0;
  size_t resize_budget_override_ = 0;
  std::vector<int> uploaded_offsets_;  // what d_offsets_ holds (eager forwards skip the upload then)
  std::vector<int> graph_offsets_;     // the offsets a graph forward in flight uploads
  bool graph_offsets_staged_ = false;
  std::vector<int> shape_key_;         // reused, so that a replayed forward allocates nothing
  ForwardGraphs graphs_;
};

}  // namespace

#if !defined(CUCLIP_EMU)
int cuda_device_count() { return gpu::device_count(); }
#endif

Status CUCLIP_MAKE_GPU_BACKEND(const Model& model, const cuclip_context_params& p, std::unique_ptr<Backend>* out) {
  const int n = gpu::device_count();
  if (n == 0)
    return Err(CUCLIP_ERR_BACKEND_UNAVAILABLE,
               "the CUDA backend needs a GPU and none is visible (no device, or no driver); use --backend cpu");
  if (p.device < 0 || p.device >= n)
    return Err(CUCLIP_ERR_BACKEND_UNAVAILABLE,
               "device " + std::to_string(p.device) + " does not exist (" + std::to_string(n) + " visible)");
  cuclip_dtype dtype = p.dtype;
#if defined(CUCLIP_EMU)
  if (dtype == CUCLIP_DTYPE_AUTO) dtype = CUCLIP_DTYPE_F32;  // the emulator's reference mode
#else
  if (dtype == CUCLIP_DTYPE_AUTO) dtype = CUCLIP_DTYPE_F16;
#endif
  const gpu::DType dt = dtype == CUCLIP_DTYPE_F16 ? gpu::DType::f16 : dtype == CUCLIP_DTYPE_BF16 ? gpu::DType::bf16 : gpu::DType::f32;
  auto be = std::make_unique<GpuBackend>(model, dtype, dt, p.device);
  CUCLIP_TRY(be->init());
  *out = std::move(be);
  return Status::Ok();
}

}  // namespace cuclip
