// The backend interface: the small set of (fused) ops the forward pass (forward.cpp) is written
// against. The CPU backend (cpu_backend.cpp) and the CUDA backend implement the same ops with the
// same signatures, so they can be compared op by op and the architecture lives in one place.
//
// Activations live in backend memory (host for CPU, device for CUDA) in the backend's compute
// dtype; the forward refers to them through Buf handles into one workspace arena sized at
// reserve(). Weights are referenced by W handles obtained once from weight(name).
//
// A forward always starts with patch_embed (vision) or text_tokens (text) and ends with
// normalize_to_host, the only op whose results the host reads: a backend may defer the device work
// in between (the CUDA backend captures whole forwards into graphs).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "base/status.hpp"
#include "cuclip.h"
#include "model_config.hpp"

namespace cuclip {

class Model;
struct ResizeBatchLayout;  // resize_batch.hpp

enum class Act { None, QuickGelu, GeluErf };
inline Act act_of(Activation a) { return a == Activation::QuickGelu ? Act::QuickGelu : Act::GeluErf; }

// Workspace buffers. Sizes (rows = max_batch * max tokens of either tower):
enum class Buf {
  X,     // residual stream           [rows, C]
  Y,     // LayerNorm output          [rows, C]
  QKV,   // q|k|v projections         [rows, 3C]
  ATTN,  // attention output          [rows, C]
  H,     // MLP hidden                [rows, M]
  COLS,  // im2col patches            [max_batch * patches, 3*P*P]
  POOL,  // pooled rows               [max_batch, C]
  POOL2, // pooled rows after LN      [max_batch, C]
  EMB,   // projected embeddings      [max_batch, D]
  kCount
};

using W = const void*;  // a weight tensor prepared by the backend

// A zero-shot classifier held by a backend on its device (see Backend::make_zero_shot_head).
class ZeroShotHead {
 public:
  virtual ~ZeroShotHead() = default;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual cuclip_backend kind() const = 0;
  virtual cuclip_dtype dtype() const = 0;

  // Zero-shot classification on the device, for backends that have it: the head holds the
  // classifier's unit rows cls[K, D] (host f32, copied) and room for max_batch rows of K.
  // zero_shot_to_host then ends an image forward instead of normalize_to_host:
  // probs[b, k] = softmax_k(scale * <x[b] / |x[b]|, cls[k]> + bias), written to host memory; with
  // top_k > 0 only the top_k best classes of each row come back instead, probs[b, r] and
  // idx[b, r] for rank r (cuclip_top_k's order).
  // set_forward_tail(head, top_k) is called before a forward that ends in zero_shot_to_host (null:
  // one that ends in normalize_to_host), so that a backend replaying recorded forwards tells them apart.
  virtual bool has_zero_shot_head() const { return false; }
  virtual Status make_zero_shot_head(const float* /*cls*/, int /*K*/, int /*D*/, std::unique_ptr<ZeroShotHead>* /*out*/) {
    return Err(CUCLIP_ERR_INTERNAL, "make_zero_shot_head: this backend classifies on the host");
  }
  virtual void set_forward_tail(const ZeroShotHead* /*head*/, int /*top_k*/) {}
  virtual Status zero_shot_to_host(int /*B*/, int /*D*/, Buf /*x*/, const ZeroShotHead& /*head*/, float /*scale*/,
                                   float /*bias*/, int /*top_k*/, float* /*host_probs*/, int32_t* /*host_idx*/) {
    return Err(CUCLIP_ERR_INTERNAL, "zero_shot_to_host: this backend classifies on the host");
  }
  // Called on the calling thread before each batch: a backend bound to a device makes it current
  // (the CUDA runtime's current device is per thread, and one thread may drive contexts on
  // several devices in turn).
  virtual Status activate() { return Status::Ok(); }
  // Sizes the workspace for batches of up to max_batch items of either tower.
  virtual Status reserve(const ModelConfig& cfg, int max_batch) = 0;
  // A weight by canonical name (model_config.cpp: expected_tensors); null if absent.
  virtual W weight(const std::string& name) = 0;

  // out[B*N, C] = patches of host pixels[B, 3, S, S] times conv[C, 3, P, P] (no bias).
  virtual Status patch_embed(int B, int S, int P, int C, const float* host_pixels, W conv, Buf out) = 0;
  // Backends that normalize on their own device take the uint8 images instead (a quarter of the
  // bytes to move, no normalization pass on the host): patch_embed_u8 is then called with
  // rgb[B, S, S, 3] interleaved (img::preprocess_u8) and lut[3 * 256] (img::normalize_lut), and
  // must give exactly what patch_embed gives on the normalized floats.
  virtual bool takes_u8_pixels() const { return false; }
  // Host memory the backend uploads image pixels from (pinned, for a GPU), big enough for `bytes`,
  // or null: preprocessing a batch straight into it saves the copy into the staging buffer. Valid
  // until the next forward starts.
  virtual void* pixel_staging(size_t /*bytes*/) { return nullptr; }
  virtual Status patch_embed_u8(int /*B*/, int /*S*/, int /*P*/, int /*C*/, const uint8_t* /*host_rgb*/,
                                const float* /*lut*/, W /*conv*/, Buf /*out*/) {
    return Err(CUCLIP_ERR_INTERNAL, "patch_embed_u8: this backend takes float pixels");
  }
  // Backends that also resize on their device (a GPU) take decoded images: the host lays a batch
  // out (resize_batch.hpp: plans from img::plan_resample, the source windows, at most
  // resize_budget() bytes of staged_bytes + tmp_bytes) in resize_staging(staged_bytes, tmp_bytes)
  // (pinned memory; null when it cannot be had, and the host preprocesses instead), and
  // patch_embed_resized then makes the uint8 images on the device and continues as patch_embed_u8.
  // The staging is valid until the next forward starts.
  virtual bool resizes_on_device() const { return false; }
  virtual size_t resize_budget() const { return 0; }
  virtual uint8_t* resize_staging(size_t /*staged_bytes*/, size_t /*tmp_bytes*/) { return nullptr; }
  virtual Status patch_embed_resized(int /*B*/, int /*S*/, int /*P*/, int /*C*/, const ResizeBatchLayout& /*layout*/,
                                     const float* /*lut*/, W /*conv*/, Buf /*out*/) {
    return Err(CUCLIP_ERR_INTERNAL, "patch_embed_resized: this backend does not resize on its device");
  }
  // out[b*T + 0] = class + pos[0]; out[b*T + 1 + i] = patches[b*N + i] + pos[1 + i]; then
  // LayerNorm(ln_w, ln_b) when ln_w is not null. T = N + 1.
  virtual Status vision_tokens(int B, int N, int C, Buf patches, W cls, W pos, W ln_w, W ln_b, float eps, Buf out) = 0;
  // Token sequences packed back to back, without padding: sequence b is rows offsets[b] ..
  // offsets[b+1]-1 (host_offsets: int32[B+1], offsets[0] = 0). out[r] = token_embed[ids[r]] +
  // pos[r - offsets[b]] for each row r of sequence b; ids are host int32[offsets[B]], validated.
  virtual Status text_tokens(int B, const int* host_offsets, int C, const int32_t* host_ids, W token_embed, W pos,
                             Buf out) = 0;
  // y[r] = LayerNorm(x[r]) * w + b for r < rows, rows of width C.
  virtual Status layernorm(int rows, int C, Buf x, W w, W b, float eps, Buf y) = 0;
  // out[M, N] = act(A[M, K] . Wt[N, K]^T + bias) (+ residual[M, N], which may be out itself).
  virtual Status gemm(int M, int N, int K, Buf A, W w, W bias, Act act, const Buf* residual, Buf out) = 0;
  // Multi-head attention over qkv[rows, 3C] (C = NH*HD) into out[rows, C], scale HD^-0.5, for B
  // sequences packed as for text_tokens (each at most max_len rows): a row attends only to rows of
  // its own sequence (causal: to those at or before it).
  virtual Status attention(int B, const int* host_offsets, int max_len, int NH, int HD, Buf qkv, Buf out,
                           bool causal) = 0;
  // out[b] = x[host_rows[b]] for b < B.
  virtual Status gather_rows(int B, int C, Buf x, const int* host_rows, Buf out) = 0;
  // L2-normalizes x[B, D] and copies it to host memory.
  virtual Status normalize_to_host(int B, int D, Buf x, float* host_out) = 0;
};

}  // namespace cuclip
