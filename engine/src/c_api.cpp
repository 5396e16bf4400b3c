// The C API (include/cuclip.h) over Model, the backends and the forward pass. Every entry point
// catches everything: a C++ exception never crosses the boundary, allocation failure becomes
// CUCLIP_ERR_OUT_OF_MEMORY, and the detail goes to cuclip_last_error().
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <exception>
#include <new>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "backend_factory.hpp"
#include "base/file.hpp"
#include "base/log.hpp"
#include "cuclip.h"
#include "forward.hpp"
#include "model.hpp"
#include "resize_batch.hpp"
#include "templates.hpp"

using namespace cuclip;

struct cuclip_context {
  const Model* model = nullptr;
  cuclip_context_params params{};
  std::unique_ptr<Backend> be;
  // Preprocessed pixels of the last image batch, kept for the next: a fresh buffer per call costs
  // page faults on every call once it is large enough for malloc to map it (>= 32 MB, a batch of
  // 64 at 224 px), which dominated GPU batches. Never zeroed: every item's rows are written or the
  // item fails.
  std::unique_ptr<unsigned char[]> pixel_scratch;  // float or uint8 pixels, see encode_images_impl
  size_t pixel_capacity = 0;                       // bytes
};

struct cuclip_classifier {
  cuclip_context* ctx = nullptr;
  int n_classes = 0;
  std::vector<float> weights;  // [n_classes, D], each row L2-normalized
  // The same rows on the context's device, where its backend classifies there (GPU): images are
  // then classified on the device, the probabilities alone coming back.
  std::unique_ptr<ZeroShotHead> head;
};

namespace {

cuclip_status fail(const Status& s) {
  set_last_error(s.message);
  return s.code;
}

cuclip_status fail(cuclip_status code, const std::string& msg) { return fail(Err(code, msg)); }

// Runs f, translating exceptions into statuses.
template <class F>
cuclip_status guarded(F&& f) {
  try {
    clear_last_error();
    return f();
  } catch (const std::bad_alloc&) {
    return fail(CUCLIP_ERR_OUT_OF_MEMORY, "out of host memory");
  } catch (const std::exception& e) {
    return fail(CUCLIP_ERR_INTERNAL, std::string("internal error: ") + e.what());
  } catch (...) {
    return fail(CUCLIP_ERR_INTERNAL, "internal error");
  }
}

void fill_nan(float* row, int D) { std::fill(row, row + D, std::numeric_limits<float>::quiet_NaN()); }

// Per-item bookkeeping shared by every batch entry point: items are prepared independently (a bad
// one gets its own status and a NaN row), then the good ones run through the forward in chunks of
// max_batch. The call's status is the first failing item's, so one bad item is visible without
// losing the rest.
struct BatchResult {
  std::vector<cuclip_status> st;
  std::vector<std::string> msg;
  explicit BatchResult(int n) : st((size_t)n, CUCLIP_OK), msg((size_t)n) {}
  cuclip_status finish(cuclip_status* statuses, const char* what) {
    cuclip_status first = CUCLIP_OK;
    int n_bad = 0, first_i = -1;
    for (size_t i = 0; i < st.size(); ++i) {
      if (statuses) statuses[i] = st[i];
      if (st[i] != CUCLIP_OK) {
        if (first == CUCLIP_OK) { first = st[i]; first_i = (int)i; }
        ++n_bad;
      }
    }
    if (first != CUCLIP_OK)
      set_last_error(std::string(what) + " " + std::to_string(first_i) + ": " + msg[(size_t)first_i] +
                     (n_bad > 1 ? " (and " + std::to_string(n_bad - 1) + " more failed items)" : ""));
    return first;
  }
};

// Encodes the rows prepared in `inputs` (row stride `stride` elements) for the items listed in
// `good`, writing out rows (D wide) at the items' own indices, and, when out_idx is set, the
// int rows run() also gives (top-k class indices; -1 for a failed item).
template <class T, class Run>
void run_chunks(cuclip_context* ctx, const std::vector<int>& good, const T* inputs, size_t stride, int D, float* out,
                int* out_idx, BatchResult& r, Run&& run) {
  const int mb = ctx->params.max_batch;
  std::vector<float> emb((size_t)mb * D);
  std::vector<int32_t> idx(out_idx ? (size_t)mb * D : 0);
  std::vector<T> chunk;  // only when a chunk's good items are not consecutive
  auto fail_item = [&](int i, const Status& s) {
    r.st[(size_t)i] = s.code;
    r.msg[(size_t)i] = s.message;
    fill_nan(out + (size_t)i * D, D);
    if (out_idx) std::fill(out_idx + (size_t)i * D, out_idx + (size_t)(i + 1) * D, -1);
  };
  const Status active = good.empty() ? Status::Ok() : ctx->be->activate();
  if (!active.ok()) {
    for (int i : good) fail_item(i, active);
    return;
  }
  for (size_t start = 0; start < good.size(); start += (size_t)mb) {
    const int nb = (int)std::min<size_t>((size_t)mb, good.size() - start);
    const T* rows = inputs + (size_t)good[start] * stride;
    if (good[start + (size_t)nb - 1] - good[start] != nb - 1) {  // a failed item in between: gather
      chunk.resize((size_t)mb * stride);
      for (int j = 0; j < nb; ++j)
        std::copy(inputs + (size_t)good[start + j] * stride, inputs + (size_t)(good[start + j] + 1) * stride,
                  chunk.begin() + (size_t)j * stride);
      rows = chunk.data();
    }
    Status s;
    try {
      s = run(nb, rows, emb.data(), idx.data());
    } catch (const std::bad_alloc&) {
      s = Err(CUCLIP_ERR_OUT_OF_MEMORY, "out of memory in the forward pass (batch of " + std::to_string(nb) + ")");
    }
    for (int j = 0; j < nb; ++j) {
      const int i = good[start + j];
      if (!s.ok()) {
        fail_item(i, s);
        continue;
      }
      std::copy(emb.begin() + (size_t)j * D, emb.begin() + (size_t)(j + 1) * D, out + (size_t)i * D);
      if (out_idx) std::copy(idx.begin() + (size_t)j * D, idx.begin() + (size_t)(j + 1) * D, out_idx + (size_t)i * D);
    }
  }
}

cuclip_status encode_ids_impl(cuclip_context* ctx, const std::vector<int32_t>& ids, BatchResult& r, int n, float* out) {
  const ModelConfig& cfg = ctx->model->config();
  const int L = cfg.text.context_length, D = cfg.embed_dim;
  std::vector<int> good;
  for (int i = 0; i < n; ++i) {
    if (r.st[(size_t)i] != CUCLIP_OK) { fill_nan(out + (size_t)i * D, D); continue; }
    good.push_back(i);
  }
  run_chunks(ctx, good, ids.data(), (size_t)L, D, out, nullptr, r, [&](int nb, const int32_t* chunk, float* emb, int32_t*) {
    return encode_token_ids(*ctx->be, cfg, nb, chunk, emb);
  });
  return CUCLIP_OK;
}

int decode_threads(const cuclip_context* ctx) { return ctx->params.n_threads > 0 ? ctx->params.n_threads : omp_get_num_procs(); }

img::DecodeOptions decode_options(const cuclip_context* ctx) {
  img::DecodeOptions o;
  o.max_pixels = ctx->params.max_image_pixels;
  return o;
}

// Runs item(i) for i < n on the context's decode threads; an exception an item throws becomes its
// status (none may leave an OpenMP region).
template <class Item>
void for_each_item(const cuclip_context* ctx, int n, Status* st, Item&& item) {
  // No more threads than items: a batch of one runs on the calling thread, without waking a team.
#pragma omp parallel for schedule(dynamic, 1) num_threads(std::max(1, std::min(decode_threads(ctx), n)))
  for (int i = 0; i < n; ++i) {
    try {
      st[i] = item(i);
    } catch (const std::bad_alloc&) {
      st[i] = Err(CUCLIP_ERR_OUT_OF_MEMORY, "out of memory while preprocessing");
    } catch (...) {
      st[i] = Err(CUCLIP_ERR_INTERNAL, "internal error while preprocessing");
    }
  }
}

// An image the caller's memory holds as it is: RGB or L, `stride` bytes per row.
struct BorrowedPixels {
  const uint8_t* px = nullptr;
  size_t stride = 0;
  int width = 0, height = 0;
  img::Mode mode = img::Mode::RGB;
};

// What an image batch produces: embeddings [n, D] without a classifier; with one (that has a device
// head) probabilities [n, K], or with top_k > 0 the top_k best classes, probabilities in out
// [n, top_k] and class indices in out_idx [n, top_k] (-1 for a failed image).
struct ImageTask {
  const cuclip_classifier* clf = nullptr;
  int top_k = 0;
  int* out_idx = nullptr;
  int row_width(const ModelConfig& cfg) const { return !clf ? cfg.embed_dim : top_k > 0 ? top_k : clf->n_classes; }
  // One forward of B images into out_rows [B, row_width] (and idx_rows when top_k > 0).
  Status forward(cuclip_context* ctx, int B, const ImageInput& in, float* out_rows, int32_t* idx_rows) const {
    const ModelConfig& cfg = ctx->model->config();
    if (!clf) return encode_images(*ctx->be, cfg, B, in, out_rows);
    const float scale = (float)std::exp((double)cfg.logit_scale), bias = cfg.logit_bias ? *cfg.logit_bias : 0.0f;
    return classify_images(*ctx->be, cfg, B, in, *clf->head, scale, bias, top_k, out_rows, idx_rows);
  }
};

template <class Decode>
cuclip_status encode_images_resized(cuclip_context* ctx, int n, float* out, cuclip_status* statuses, Decode& decode,
                                    const ImageTask& task);

// Image batches. Every entry point gives `decode(i, img::Image*, BorrowedPixels*) -> Status`: item
// i decoded (or its error, naming the item); with a non-null BorrowedPixels, an item whose pixels
// the caller holds in RGB or L may be described there instead of copied into the Image. A failed
// item never affects the others: it gets its status and a NaN row, and the good ones run through
// the forward in chunks of max_batch.
//
// On a backend that resizes on its device, see encode_images_resized; otherwise every item is
// preprocessed here, to normalized floats or, for a backend that normalizes on its device
// (Backend::takes_u8_pixels), to the uint8 images rgb[n, S, S, 3].
template <class Decode>
cuclip_status encode_images_impl(cuclip_context* ctx, int n, float* out, cuclip_status* statuses, Decode&& decode,
                                 const ImageTask& task = {}) {
  if (!ctx || n < 0 || (n > 0 && !out)) return fail(CUCLIP_ERR_INVALID_ARGUMENT, "ctx and out must not be NULL, n must be >= 0");
  if (ctx->be->resizes_on_device()) return encode_images_resized(ctx, n, out, statuses, decode, task);
  const ModelConfig& cfg = ctx->model->config();
  const img::Preset& preset = ctx->model->preset();
  const int S = cfg.vision.image_size, D = task.row_width(cfg);  // D: the width of out's rows
  const size_t px = (size_t)3 * S * S;
  const bool u8 = ctx->be->takes_u8_pixels();
  const size_t bytes = (size_t)n * px * (u8 ? 1 : sizeof(float));
  BatchResult r(n);
  // One chunk of uint8 images: preprocess straight into the backend's upload buffer (pinned memory
  // on a GPU), saving a copy of the whole batch.
  void* direct = u8 && n <= ctx->params.max_batch ? ctx->be->pixel_staging(bytes) : nullptr;
  if (!direct && bytes > ctx->pixel_capacity) {
    ctx->pixel_scratch.reset();  // release the old buffer before asking for the larger one
    ctx->pixel_capacity = 0;
    ctx->pixel_scratch.reset(new unsigned char[bytes]);  // aligned for float (new[]'s default alignment)
    ctx->pixel_capacity = bytes;
  }
  uint8_t* rgb = u8 ? (direct ? static_cast<uint8_t*>(direct) : ctx->pixel_scratch.get()) : nullptr;
  float* f32 = u8 ? nullptr : reinterpret_cast<float*>(ctx->pixel_scratch.get());
  std::vector<Status> st((size_t)n);
  for_each_item(ctx, n, st.data(), [&](int i) {
    img::Image im;
    Status s = decode(i, &im, nullptr);
    if (s.ok() && u8) {
      std::vector<uint8_t> one;
      s = img::preprocess_u8(im, preset, &one);
      if (s.ok()) std::copy(one.begin(), one.end(), rgb + (size_t)i * px);
    } else if (s.ok()) {
      s = img::preprocess(im, preset, f32 + (size_t)i * px);
    }
    return s;
  });
  std::vector<int> good;
  for (int i = 0; i < n; ++i) {
    r.st[(size_t)i] = st[(size_t)i].code;
    r.msg[(size_t)i] = st[(size_t)i].message;
    if (st[(size_t)i].ok()) good.push_back(i);
    else {
      fill_nan(out + (size_t)i * D, D);
      if (task.out_idx) std::fill(task.out_idx + (size_t)i * D, task.out_idx + (size_t)(i + 1) * D, -1);
    }
  }
  float lut[3 * 256];
  img::normalize_lut(preset, lut);
  if (u8)
    run_chunks(ctx, good, static_cast<const uint8_t*>(rgb), px, D, out, task.out_idx, r,
               [&](int nb, const uint8_t* chunk, float* rows, int32_t* idx) {
                 return task.forward(ctx, nb, ImageInput{nullptr, chunk, nullptr, lut}, rows, idx);
               });
  else
    run_chunks(ctx, good, static_cast<const float*>(f32), px, D, out, task.out_idx, r,
               [&](int nb, const float* chunk, float* rows, int32_t* idx) {
                 return task.forward(ctx, nb, ImageInput{chunk, nullptr, nullptr, nullptr}, rows, idx);
               });
  return r.finish(statuses, "image");
}

// A backend that resizes on its device (Backend::resizes_on_device, the GPU) takes the decoded
// images: per chunk of max_batch items, the host threads decode and plan them (img::plan_resample),
// the chunk is laid out (resize_batch.hpp) and written straight into the backend's pinned staging,
// and the resize, crop and normalization run on the device. An item the device path does not
// cover (palette, alpha, NEAREST, ... or past the staging budget) is preprocessed here and rides
// along as its S x S result, copied on the device. The bytes the model sees are the same either way.
// Chunks are pipelined: while the device runs chunk k, another thread decodes chunk k + 1.

// One chunk's decoded items (two alternate, so that the next chunk decodes during this one's forward).
struct DecodedChunk {
  int start = 0, m = 0;
  std::vector<img::Image> ims;
  std::vector<BorrowedPixels> views;  // caller pixels used in place (no copy)
  std::vector<img::ResamplePlan> plans;
  std::vector<std::vector<uint8_t>> host_rgb;  // host-preprocessed S x S x 3, for items off the device path
  std::vector<char> on_device;
  std::vector<Status> st;
  explicit DecodedChunk(size_t cap) : ims(cap), views(cap), plans(cap), host_rgb(cap), on_device(cap), st(cap) {}
};

template <class Decode>
cuclip_status encode_images_resized(cuclip_context* ctx, int n, float* out, cuclip_status* statuses, Decode& decode,
                                    const ImageTask& task) {
  const ModelConfig& cfg = ctx->model->config();
  const img::Preset& preset = ctx->model->preset();
  const int S = cfg.vision.image_size, D = task.row_width(cfg), mb = ctx->params.max_batch;
  BatchResult r(n);
  const Status active = n > 0 ? ctx->be->activate() : Status::Ok();
  float lut[3 * 256];
  img::normalize_lut(preset, lut);
  // The plan of an S x S RGB image under any preset with a crop is the identity: how a host-
  // preprocessed item travels.
  img::ResamplePlan identity;
  if (!img::plan_resample(S, S, img::Mode::RGB, false, img::openai_preset(S), &identity))
    return fail(CUCLIP_ERR_INTERNAL, "no identity resize plan");
  const size_t cap = (size_t)std::min(mb, std::max(n, 1));
  DecodedChunk chunks[2] = {DecodedChunk(cap), DecodedChunk(cap)};
  std::vector<float> emb((size_t)mb * D);
  std::vector<int32_t> idx(task.out_idx ? (size_t)mb * D : 0);

  // The host pipeline for item i: on a borrowed view, the copy into an Image comes first.
  auto host_preprocess = [&](DecodedChunk& c, int i) {
    if (c.views[(size_t)i].px) {
      c.views[(size_t)i] = {};
      CUCLIP_TRY(decode(c.start + i, &c.ims[(size_t)i], nullptr));
    }
    c.host_rgb[(size_t)i].clear();
    return img::preprocess_u8(c.ims[(size_t)i], preset, &c.host_rgb[(size_t)i]);
  };
  auto decode_chunk = [&](DecodedChunk& c, int start) {
    c.start = start;
    c.m = std::min(mb, n - start);
    for_each_item(ctx, c.m, c.st.data(), [&](int i) {
      c.ims[(size_t)i] = img::Image{};
      c.views[(size_t)i] = {};
      CUCLIP_TRY(active);
      CUCLIP_TRY(decode(c.start + i, &c.ims[(size_t)i], &c.views[(size_t)i]));
      const BorrowedPixels& v = c.views[(size_t)i];
      c.on_device[(size_t)i] = v.px ? img::plan_resample(v.width, v.height, v.mode, false, preset, &c.plans[(size_t)i])
                                    : img::plan_resample(c.ims[(size_t)i], preset, &c.plans[(size_t)i]);
      return c.on_device[(size_t)i] ? Status::Ok() : host_preprocess(c, i);
    });
  };

  if (n > 0) decode_chunk(chunks[0], 0);
  for (int k = 0; n > 0 && chunks[k % 2].start < n; ++k) {
    DecodedChunk& c = chunks[k % 2];
    DecodedChunk& next = chunks[(k + 1) % 2];
    const bool has_next = c.start + c.m < n;
    next.start = n;  // ends the loop unless decoded below
    // Decode the next chunk on another thread while this one runs (inline if no thread can start).
    std::exception_ptr next_error;
    std::thread decoder;
    struct JoinAtExit {  // an exception below must not leave the decoder running (std::terminate)
      std::thread& t;
      ~JoinAtExit() {
        if (t.joinable()) t.join();
      }
    } join_at_exit{decoder};
    if (has_next) {
      try {
        decoder = std::thread([&] {
          try {
            decode_chunk(next, c.start + c.m);
          } catch (...) {
            next_error = std::current_exception();
          }
        });
      } catch (const std::system_error&) {
      }
    }
    // Lay the good items out in order, on the device path while the staging budget lasts.
    const size_t budget = ctx->be->resize_budget();
    ResizeBatchLayout layout;
    std::vector<int> rows;  // chunk index of each batch row
    for (int i = 0; i < c.m; ++i) {
      if (!c.st[(size_t)i].ok()) continue;
      if (c.on_device[(size_t)i] && !layout.fits(c.plans[(size_t)i], budget)) {
        c.on_device[(size_t)i] = false;
        c.st[(size_t)i] = host_preprocess(c, i);
        if (!c.st[(size_t)i].ok()) continue;
      }
      layout.add(c.on_device[(size_t)i] ? c.plans[(size_t)i] : identity);
      rows.push_back(i);
    }
    const int B = (int)rows.size();
    uint8_t* staging = B > 0 ? ctx->be->resize_staging(layout.staged_bytes, layout.tmp_bytes) : nullptr;
    auto forward = [&](const ImageInput& in) -> Status {
      try {
        return task.forward(ctx, B, in, emb.data(), idx.data());
      } catch (const std::bad_alloc&) {
        return Err(CUCLIP_ERR_OUT_OF_MEMORY, "out of memory in the forward pass (batch of " + std::to_string(B) + ")");
      }
    };
    Status run;
    std::vector<Status> written((size_t)B);
    if (staging) {
      for_each_item(ctx, B, written.data(), [&](int j) {
        const int i = rows[(size_t)j];
        size_t stride = (size_t)3 * S;
        const uint8_t* src = c.host_rgb[(size_t)i].data();
        const img::ResamplePlan& p = c.plans[(size_t)i];
        if (c.on_device[(size_t)i] && c.views[(size_t)i].px) {
          stride = c.views[(size_t)i].stride;
          src = c.views[(size_t)i].px + (size_t)p.src_y0 * stride + (size_t)p.src_x0 * p.channels;
        } else if (c.on_device[(size_t)i]) {
          src = resize_source(c.ims[(size_t)i], p, &stride);
        }
        write_resize_item(layout, j, c.on_device[(size_t)i] ? p : identity, src, stride, staging);
        return Status::Ok();
      });
      run = forward(ImageInput{nullptr, nullptr, &layout, lut});
    } else if (B > 0) {  // no staging memory (a small device): the host preprocesses the chunk
      const size_t px = (size_t)3 * S * S, bytes = (size_t)B * px;
      uint8_t* rgb = static_cast<uint8_t*>(ctx->be->pixel_staging(bytes));
      if (!rgb) {
        if (bytes > ctx->pixel_capacity) {
          ctx->pixel_scratch.reset();
          ctx->pixel_capacity = 0;
          ctx->pixel_scratch.reset(new unsigned char[bytes]);
          ctx->pixel_capacity = bytes;
        }
        rgb = ctx->pixel_scratch.get();
      }
      for_each_item(ctx, B, written.data(), [&](int j) {
        const int i = rows[(size_t)j];
        if (c.on_device[(size_t)i]) CUCLIP_TRY(host_preprocess(c, i));
        std::copy(c.host_rgb[(size_t)i].begin(), c.host_rgb[(size_t)i].end(), rgb + (size_t)j * px);
        return Status::Ok();
      });
      run = forward(ImageInput{nullptr, rgb, nullptr, lut});
    }
    for (int j = 0; j < B; ++j)
      if (!written[(size_t)j].ok()) c.st[(size_t)rows[(size_t)j]] = written[(size_t)j];  // its row is NaN below
    for (int i = 0, j = 0; i < c.m; ++i) {
      const size_t g = (size_t)(c.start + i);
      float* row = out + g * D;
      const bool in_batch = j < B && rows[(size_t)j] == i;
      const Status& s = !c.st[(size_t)i].ok() ? c.st[(size_t)i] : run;
      int* idx_row = task.out_idx ? task.out_idx + g * D : nullptr;
      if (in_batch && s.ok()) {
        std::copy(emb.begin() + (size_t)j * D, emb.begin() + (size_t)(j + 1) * D, row);
        if (idx_row) std::copy(idx.begin() + (size_t)j * D, idx.begin() + (size_t)(j + 1) * D, idx_row);
      } else {
        r.st[g] = s.code;
        r.msg[g] = s.message;
        fill_nan(row, D);
        if (idx_row) std::fill(idx_row, idx_row + D, -1);
      }
      if (in_batch) ++j;
      c.ims[(size_t)i] = img::Image{};  // decoded images live for one chunk only
      c.views[(size_t)i] = {};
    }
    if (decoder.joinable()) decoder.join();
    else if (has_next) decode_chunk(next, c.start + c.m);
    if (next_error) std::rethrow_exception(next_error);
  }
  return r.finish(statuses, "image");
}

// decode for image files: read and decode (only what the preset reads, for JPEG).
auto decode_files(cuclip_context* ctx, const char* const* paths) {
  return [=](int i, img::Image* im, BorrowedPixels*) -> Status {
    if (!paths[i]) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "path is NULL");
    std::vector<uint8_t> bytes;
    Status s = read_file(paths[i], 1ull << 31, &bytes);
    if (s.ok()) s = img::decode_memory_for_preset(bytes.data(), bytes.size(), decode_options(ctx), ctx->model->preset(), im);
    if (!s.ok()) s.message = std::string(paths[i]) + ": " + s.message;
    return s;
  };
}

Status tokenize_one(const Model& m, const char* text, uint64_t max_bytes, int context_length, int32_t* out) {
  if (!text) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "text is NULL");
  const size_t len = std::strlen(text);
  if (len > max_bytes)
    return Err(CUCLIP_ERR_LIMIT_EXCEEDED, "text of " + std::to_string(len) + " bytes exceeds the limit of " + std::to_string(max_bytes));
  return m.tokenizer().encode_padded(std::string_view(text, len), context_length, out);
}

}  // namespace

extern "C" {

const char* cuclip_version(void) { return CUCLIP_VERSION_STRING; }

cuclip_model_params cuclip_model_default_params(void) {
  cuclip_model_params p;
  p.verify_checksums = 0;
  p.max_header_bytes = 256ull << 20;
  p.max_tensor_count = 65536;
  return p;
}

cuclip_status cuclip_model_load(const char* path, cuclip_model_params params, cuclip_model** out) {
  return guarded([&] {
    if (out) *out = nullptr;
    if (!path || !out) return fail(CUCLIP_ERR_INVALID_ARGUMENT, "path and out must not be NULL");
    std::unique_ptr<Model> m;
    Status s = Model::load(path, params, &m);
    if (!s.ok()) return fail(s);
    *out = new cuclip_model{std::move(m)};
    return CUCLIP_OK;
  });
}

void cuclip_model_free(cuclip_model* model) { delete model; }

int cuclip_model_embed_dim(const cuclip_model* m) { return m ? m->impl->config().embed_dim : 0; }
int cuclip_model_image_size(const cuclip_model* m) { return m ? m->impl->config().vision.image_size : 0; }
int cuclip_model_context_length(const cuclip_model* m) { return m ? m->impl->config().text.context_length : 0; }
float cuclip_model_logit_scale(const cuclip_model* m) { return m ? std::exp(m->impl->config().logit_scale) : 0.0f; }
float cuclip_model_logit_bias(const cuclip_model* m) { return m && m->impl->config().logit_bias ? *m->impl->config().logit_bias : 0.0f; }
const char* cuclip_model_info_json(const cuclip_model* m) { return m ? m->impl->info_json().c_str() : ""; }

cuclip_status cuclip_model_verify(const cuclip_model* model) {
  return guarded([&] {
    if (!model) return fail(CUCLIP_ERR_INVALID_ARGUMENT, "model is NULL");
    Status s = model->impl->file().verify();
    return s.ok() ? CUCLIP_OK : fail(s);
  });
}

cuclip_status cuclip_tokenize(const cuclip_model* model, const char* text, int context_length, int32_t* out_ids, int capacity,
                              int* n_out) {
  return guarded([&] {
    if (!model || !text || !out_ids || !n_out) return fail(CUCLIP_ERR_INVALID_ARGUMENT, "model, text, out_ids and n_out must not be NULL");
    const int L = context_length > 0 ? context_length : model->impl->config().text.context_length;
    if (L < 2) return fail(CUCLIP_ERR_INVALID_ARGUMENT, "context_length must be at least 2");
    if (capacity < L) return fail(CUCLIP_ERR_BUFFER_TOO_SMALL, "capacity " + std::to_string(capacity) + " is below the context length " + std::to_string(L));
    Status s = model->impl->tokenizer().encode_padded(text, L, out_ids);
    if (!s.ok()) return fail(s);
    *n_out = L;
    return CUCLIP_OK;
  });
}

cuclip_context_params cuclip_context_default_params(void) {
  cuclip_context_params p;
  p.backend = CUCLIP_BACKEND_AUTO;
  p.device = 0;
  p.dtype = CUCLIP_DTYPE_AUTO;
  p.max_batch = 32;
  p.n_threads = 0;
  p.max_image_pixels = 89478485ull;
  p.max_text_bytes = 1ull << 20;
  return p;
}

cuclip_status cuclip_context_create(const cuclip_model* model, cuclip_context_params params, cuclip_context** out) {
  return guarded([&] {
    if (out) *out = nullptr;
    if (!model || !out) return fail(CUCLIP_ERR_INVALID_ARGUMENT, "model and out must not be NULL");
    if (params.max_batch < 1 || params.max_batch > (1 << 16)) return fail(CUCLIP_ERR_INVALID_ARGUMENT, "max_batch must be in [1, 65536]");
    if (params.n_threads < 0) return fail(CUCLIP_ERR_INVALID_ARGUMENT, "n_threads must be >= 0");
    // Read the enums as the ints a C caller may have stored, before using them as enums.
    int backend_value, dtype_value;
    std::memcpy(&backend_value, &params.backend, sizeof backend_value);
    std::memcpy(&dtype_value, &params.dtype, sizeof dtype_value);
    if (backend_value < 0 || backend_value > CUCLIP_BACKEND_CUDA_EMU) return fail(CUCLIP_ERR_INVALID_ARGUMENT, "unknown backend");
    if (dtype_value < 0 || dtype_value > CUCLIP_DTYPE_BF16) return fail(CUCLIP_ERR_INVALID_ARGUMENT, "unknown dtype");
    auto ctx = std::make_unique<cuclip_context>();
    ctx->model = model->impl.get();
    ctx->params = params;
    Status s = make_backend(*ctx->model, params, &ctx->be);
    if (!s.ok()) return fail(s);
    s = ctx->be->reserve(ctx->model->config(), params.max_batch);
    if (!s.ok()) return fail(s);
    *out = ctx.release();
    return CUCLIP_OK;
  });
}

void cuclip_context_free(cuclip_context* ctx) { delete ctx; }
cuclip_backend cuclip_context_backend(const cuclip_context* ctx) { return ctx ? ctx->be->kind() : CUCLIP_BACKEND_AUTO; }
cuclip_dtype cuclip_context_dtype(const cuclip_context* ctx) { return ctx ? ctx->be->dtype() : CUCLIP_DTYPE_AUTO; }

cuclip_status cuclip_encode_texts(cuclip_context* ctx, const char* const* texts, int n, float* out, cuclip_status* statuses) {
  return guarded([&] {
    if (!ctx || n < 0 || (n > 0 && (!texts || !out))) return fail(CUCLIP_ERR_INVALID_ARGUMENT, "ctx, texts and out must not be NULL, n must be >= 0");
    const Model& m = *ctx->model;
    const int L = m.config().text.context_length;
    BatchResult r(n);
    std::vector<int32_t> ids((size_t)n * L);
    const int threads = ctx->params.n_threads > 0 ? ctx->params.n_threads : omp_get_num_procs();
#pragma omp parallel for schedule(dynamic, 8) num_threads(threads)
    for (int i = 0; i < n; ++i) {
      Status s;
      try {
        s = tokenize_one(m, texts[i], ctx->params.max_text_bytes, L, ids.data() + (size_t)i * L);
      } catch (...) {
        s = Err(CUCLIP_ERR_OUT_OF_MEMORY, "out of memory while tokenizing");
      }
      r.st[(size_t)i] = s.code;
      r.msg[(size_t)i] = s.message;
    }
    encode_ids_impl(ctx, ids, r, n, out);
    return r.finish(statuses, "text");
  });
}

cuclip_status cuclip_encode_token_ids(cuclip_context* ctx, const int32_t* ids, int n, int context_length, float* out,
                                      cuclip_status* statuses) {
  return guarded([&] {
    if (!ctx || n < 0 || (n > 0 && (!ids || !out))) return fail(CUCLIP_ERR_INVALID_ARGUMENT, "ctx, ids and out must not be NULL, n must be >= 0");
    const ModelConfig& cfg = ctx->model->config();
    const int L = cfg.text.context_length;
    if (context_length < 1 || context_length > L)
      return fail(CUCLIP_ERR_INVALID_ARGUMENT, "context_length " + std::to_string(context_length) + " must be in [1, " + std::to_string(L) + "]");
    BatchResult r(n);
    std::vector<int32_t> padded((size_t)n * L, ctx->model->file().tokenizer().pad_id);
    for (int i = 0; i < n; ++i)
      for (int t = 0; t < context_length; ++t) {
        const int32_t id = ids[(size_t)i * context_length + t];
        if (id < 0 || id >= cfg.text.vocab_size) {
          r.st[(size_t)i] = CUCLIP_ERR_INVALID_ARGUMENT;
          r.msg[(size_t)i] = "token id " + std::to_string(id) + " at position " + std::to_string(t) + " is outside the vocab of " + std::to_string(cfg.text.vocab_size);
          break;
        }
        padded[(size_t)i * L + t] = id;
      }
    encode_ids_impl(ctx, padded, r, n, out);
    return r.finish(statuses, "token sequence");
  });
}

cuclip_status cuclip_encode_image_files(cuclip_context* ctx, const char* const* paths, int n, float* out, cuclip_status* statuses) {
  return guarded([&] {
    if (n > 0 && !paths) return fail(CUCLIP_ERR_INVALID_ARGUMENT, "paths must not be NULL");
    return encode_images_impl(ctx, n, out, statuses, decode_files(ctx, paths));
  });
}

cuclip_status cuclip_encode_image_buffers(cuclip_context* ctx, const void* const* data, const size_t* sizes, int n, float* out,
                                          cuclip_status* statuses) {
  return guarded([&] {
    if (n > 0 && (!data || !sizes)) return fail(CUCLIP_ERR_INVALID_ARGUMENT, "data and sizes must not be NULL");
    return encode_images_impl(ctx, n, out, statuses, [&](int i, img::Image* im, BorrowedPixels*) -> Status {
      if (!data[i]) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "buffer is NULL");
      return img::decode_memory_for_preset(static_cast<const uint8_t*>(data[i]), sizes[i], decode_options(ctx),
                                           ctx->model->preset(), im);
    });
  });
}

cuclip_status cuclip_encode_image_pixels(cuclip_context* ctx, const cuclip_image_view* images, int n, float* out, cuclip_status* statuses) {
  return guarded([&] {
    if (n > 0 && !images) return fail(CUCLIP_ERR_INVALID_ARGUMENT, "images must not be NULL");
    return encode_images_impl(ctx, n, out, statuses, [&](int i, img::Image* im, BorrowedPixels* borrow) -> Status {
      const cuclip_image_view& v = images[i];
      int format_value;
      std::memcpy(&format_value, &v.format, sizeof format_value);
      const int ch = format_value == CUCLIP_PIXELS_RGB8 ? 3 : format_value == CUCLIP_PIXELS_RGBA8 ? 4 : format_value == CUCLIP_PIXELS_L8 ? 1 : 0;
      if (ch == 0) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "unknown pixel format " + std::to_string(format_value));
      if (!v.pixels) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "pixels is NULL");
      if ((uint64_t)std::max(v.width, 0) * (uint64_t)std::max(v.height, 0) > ctx->params.max_image_pixels)
        return Err(CUCLIP_ERR_LIMIT_EXCEEDED, "image of " + std::to_string(v.width) + "x" + std::to_string(v.height) + " exceeds the pixel limit");
      if (borrow && ch != 4 && v.width > 0 && v.height > 0 && (v.stride == 0 || v.stride >= v.width * ch)) {
        // RGB or L, valid geometry: the device path reads the caller's rows where they are.
        *borrow = {v.pixels, v.stride ? (size_t)v.stride : (size_t)v.width * ch, v.width, v.height,
                   ch == 3 ? img::Mode::RGB : img::Mode::L};
        return Status::Ok();
      }
      return img::from_pixels(v.pixels, v.width, v.height, v.stride, ch, im);
    });
  });
}

cuclip_status cuclip_preprocess_image_file(const cuclip_model* model, const char* path, float* out) {
  return guarded([&] {
    if (!model || !path || !out) return fail(CUCLIP_ERR_INVALID_ARGUMENT, "model, path and out must not be NULL");
    img::Image im;
    Status s = img::decode_file(path, img::DecodeOptions{}, &im);
    if (s.ok()) s = img::preprocess(im, model->impl->preset(), out);
    return s.ok() ? CUCLIP_OK : fail(s);
  });
}

cuclip_status cuclip_similarity(const cuclip_model* model, const float* image_emb, int n_images, const float* text_emb, int n_texts,
                                float* logits) {
  return guarded([&] {
    if (!model || n_images < 0 || n_texts < 0 || (n_images * (int64_t)n_texts > 0 && (!image_emb || !text_emb || !logits)))
      return fail(CUCLIP_ERR_INVALID_ARGUMENT, "model, embeddings and logits must not be NULL, counts must be >= 0");
    const ModelConfig& c = model->impl->config();
    const int D = c.embed_dim;
    const float scale = std::exp(c.logit_scale), bias = c.logit_bias ? *c.logit_bias : 0.0f;
    for (int i = 0; i < n_images; ++i)
      for (int j = 0; j < n_texts; ++j) {
        double dot = 0;
        for (int d = 0; d < D; ++d) dot += (double)image_emb[(size_t)i * D + d] * text_emb[(size_t)j * D + d];
        logits[(size_t)i * n_texts + j] = (float)(scale * dot + bias);
      }
    return CUCLIP_OK;
  });
}

cuclip_status cuclip_classifier_create(cuclip_context* ctx, const char* const* class_names, int n_classes, const char* const* templates,
                                       int n_templates, cuclip_classifier** out) {
  return guarded([&] {
    if (out) *out = nullptr;
    if (!ctx || !class_names || n_classes < 1 || !out || n_templates < 0 || (n_templates > 0 && !templates))
      return fail(CUCLIP_ERR_INVALID_ARGUMENT, "ctx, class_names and out must not be NULL and n_classes must be >= 1");
    std::vector<std::string> tmpls;
    if (!templates) tmpls = ctx->model->templates();
    else if (n_templates == 0) tmpls = {"{}"};
    else
      for (int t = 0; t < n_templates; ++t) {
        if (!templates[t]) return fail(CUCLIP_ERR_INVALID_ARGUMENT, "template " + std::to_string(t) + " is NULL");
        tmpls.push_back(templates[t]);
      }
    const int D = ctx->model->config().embed_dim, nt = (int)tmpls.size();
    auto clf = std::make_unique<cuclip_classifier>();
    clf->ctx = ctx;
    clf->n_classes = n_classes;
    clf->weights.assign((size_t)n_classes * D, 0.0f);
    std::vector<std::string> prompts;
    std::vector<const char*> ptrs;
    std::vector<float> emb((size_t)nt * D);
    std::vector<cuclip_status> st((size_t)nt);
    for (int c = 0; c < n_classes; ++c) {
      if (!class_names[c]) return fail(CUCLIP_ERR_INVALID_ARGUMENT, "class name " + std::to_string(c) + " is NULL");
      prompts.clear();
      ptrs.clear();
      for (const auto& t : tmpls) prompts.push_back(apply_template(t, class_names[c]));
      for (const auto& p : prompts) ptrs.push_back(p.c_str());
      cuclip_status s = cuclip_encode_texts(ctx, ptrs.data(), nt, emb.data(), st.data());
      if (s != CUCLIP_OK) {
        std::string detail = cuclip_last_error();
        return fail(s, "class '" + std::string(class_names[c]) + "': " + detail);
      }
      // open_clip build_zero_shot_classifier: mean of the normalized template embeddings, renormalized.
      float* w = clf->weights.data() + (size_t)c * D;
      for (int t = 0; t < nt; ++t)
        for (int d = 0; d < D; ++d) w[d] += emb[(size_t)t * D + d] / (float)nt;
      double nrm = 0;
      for (int d = 0; d < D; ++d) nrm += (double)w[d] * w[d];
      nrm = std::sqrt(nrm);
      for (int d = 0; d < D; ++d) w[d] = (float)(w[d] / nrm);
    }
    // Where the context's backend can classify on its device, keep a copy there. Should that fail
    // (out of device memory), images are classified on the host as for the CPU backend: same
    // results, only slower.
    if (ctx->be->has_zero_shot_head() && !ctx->be->make_zero_shot_head(clf->weights.data(), n_classes, D, &clf->head).ok())
      clf->head.reset();
    *out = clf.release();
    return CUCLIP_OK;
  });
}

void cuclip_classifier_free(cuclip_classifier* clf) { delete clf; }
int cuclip_classifier_n_classes(const cuclip_classifier* clf) { return clf ? clf->n_classes : 0; }

cuclip_status cuclip_classify_embeddings(cuclip_classifier* clf, const float* image_emb, int n, float* probs) {
  return guarded([&] {
    if (!clf || n < 0 || (n > 0 && (!image_emb || !probs))) return fail(CUCLIP_ERR_INVALID_ARGUMENT, "clf, image_emb and probs must not be NULL");
    const ModelConfig& c = clf->ctx->model->config();
    const int D = c.embed_dim, K = clf->n_classes;
    const double scale = std::exp((double)c.logit_scale), bias = c.logit_bias ? *c.logit_bias : 0.0;
    for (int i = 0; i < n; ++i) {
      const float* e = image_emb + (size_t)i * D;
      float* p = probs + (size_t)i * K;
      bool finite = true;
      for (int d = 0; d < D && finite; ++d) finite = std::isfinite(e[d]);
      if (!finite) { fill_nan(p, K); continue; }  // a failed image's NaN row stays NaN
      double mx = -INFINITY;
      std::vector<double> z((size_t)K);
      for (int k = 0; k < K; ++k) {
        double dot = 0;
        const float* w = clf->weights.data() + (size_t)k * D;
        for (int d = 0; d < D; ++d) dot += (double)e[d] * w[d];
        z[(size_t)k] = scale * dot + bias;
        mx = std::max(mx, z[(size_t)k]);
      }
      double sum = 0;
      for (int k = 0; k < K; ++k) sum += (z[(size_t)k] = std::exp(z[(size_t)k] - mx));
      for (int k = 0; k < K; ++k) p[k] = (float)(z[(size_t)k] / sum);
    }
    return CUCLIP_OK;
  });
}

cuclip_status cuclip_classify_image_files(cuclip_classifier* clf, const char* const* paths, int n, float* probs, cuclip_status* statuses) {
  return guarded([&] {
    if (!clf || n < 0 || (n > 0 && (!paths || !probs))) return fail(CUCLIP_ERR_INVALID_ARGUMENT, "clf, paths and probs must not be NULL");
    if (clf->head) return encode_images_impl(clf->ctx, n, probs, statuses, decode_files(clf->ctx, paths), ImageTask{clf});
    const int D = clf->ctx->model->config().embed_dim;
    std::vector<float> emb((size_t)n * D);
    cuclip_status s = cuclip_encode_image_files(clf->ctx, paths, n, emb.data(), statuses);
    const std::string detail = cuclip_last_error();
    cuclip_status c = cuclip_classify_embeddings(clf, emb.data(), n, probs);
    if (c != CUCLIP_OK) return c;
    if (s != CUCLIP_OK) set_last_error(detail);
    return s;
  });
}

cuclip_status cuclip_classify_image_files_top_k(cuclip_classifier* clf, const char* const* paths, int n, int k,
                                               int* out_indices, float* out_probs, cuclip_status* statuses) {
  return guarded([&] {
    if (!clf || n < 0 || (n > 0 && (!paths || !out_indices)))
      return fail(CUCLIP_ERR_INVALID_ARGUMENT, "clf, paths and out_indices must not be NULL, n must be >= 0");
    const int K = clf->n_classes;
    if (k < 1 || k > K)
      return fail(CUCLIP_ERR_INVALID_ARGUMENT, "k must be in [1, " + std::to_string(K) + "] (the classes), got " + std::to_string(k));
    std::vector<float> own_probs(out_probs ? 0 : (size_t)n * k);
    float* probs = out_probs ? out_probs : own_probs.data();
    if (clf->head)  // selected on the device: n * k pairs come back
      return encode_images_impl(clf->ctx, n, probs, statuses, decode_files(clf->ctx, paths), ImageTask{clf, k, out_indices});
    std::vector<float> all((size_t)n * K);
    std::vector<cuclip_status> st((size_t)n);
    const cuclip_status s = cuclip_classify_image_files(clf, paths, n, all.data(), st.data());
    const std::string detail = cuclip_last_error();
    for (int i = 0; i < n; ++i) {
      if (statuses) statuses[i] = st[(size_t)i];
      if (st[(size_t)i] == CUCLIP_OK) {
        const cuclip_status t = cuclip_top_k(all.data() + (size_t)i * K, K, k, out_indices + (size_t)i * k, probs + (size_t)i * k);
        if (t != CUCLIP_OK) return t;
      } else {
        std::fill(out_indices + (size_t)i * k, out_indices + (size_t)(i + 1) * k, -1);
        fill_nan(probs + (size_t)i * k, k);
      }
    }
    if (s != CUCLIP_OK) set_last_error(detail);
    return s;
  });
}

cuclip_status cuclip_top_k(const float* probs, int n_classes, int k, int* out_indices, float* out_probs) {
  return guarded([&] {
    if (!probs || !out_indices || n_classes < 1 || k < 1 || k > n_classes)
      return fail(CUCLIP_ERR_INVALID_ARGUMENT, "probs and out_indices must not be NULL and 1 <= k <= n_classes");
    std::vector<int> idx((size_t)n_classes);
    for (int i = 0; i < n_classes; ++i) idx[(size_t)i] = i;
    // Highest first; NaN last; ties keep the lower index first.
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) {
      const float pa = probs[a], pb = probs[b];
      if (std::isnan(pa) != std::isnan(pb)) return std::isnan(pb);
      if (pa != pb) return pa > pb;
      return a < b;
    });
    for (int i = 0; i < k; ++i) {
      out_indices[i] = idx[(size_t)i];
      if (out_probs) out_probs[i] = probs[idx[(size_t)i]];
    }
    return CUCLIP_OK;
  });
}

int cuclip_openai_imagenet_template_count(void) { return (int)openai_imagenet_templates().size(); }
const char* cuclip_openai_imagenet_template(int i) {
  const auto& t = openai_imagenet_templates();
  return i >= 0 && i < (int)t.size() ? t[(size_t)i].c_str() : nullptr;
}

}  // extern "C"
