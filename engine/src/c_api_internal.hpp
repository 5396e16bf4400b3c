// The C API's internals shared by its translation units (c_api.cpp, image_batches.hpp): the
// opaque handles' definitions, status and exception translation, and the per-item batch machinery
// every encode entry point uses.
#pragma once
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "backend.hpp"
#include "base/log.hpp"
#include "cuclip.h"
#include "cuclip/image.hpp"
#include "model.hpp"

struct cuclip_context {
  const cuclip::Model* model = nullptr;
  cuclip_context_params params{};
  std::unique_ptr<cuclip::Backend> be;
  // Preprocessed pixels of one chunk (max_batch images), kept for the next: a fresh buffer per call
  // costs page faults on every call once it is large enough for malloc to map it (>= 32 MB, a batch
  // of 64 at 224 px), which dominated GPU batches. Never zeroed: every item's rows are written or
  // the item fails.
  std::unique_ptr<unsigned char[]> pixel_scratch;  // float or uint8 pixels, see encode_images_impl
  size_t pixel_capacity = 0;                       // bytes
};

struct cuclip_classifier {
  cuclip_context* ctx = nullptr;
  int n_classes = 0;
  std::vector<float> weights;  // [n_classes, D], each row L2-normalized
  // The same rows on the context's device, where its backend classifies there (GPU): images are
  // then classified on the device, the probabilities alone coming back.
  std::unique_ptr<cuclip::ZeroShotHead> head;
};

namespace cuclip::capi {

inline cuclip_status fail(const Status& s) {
  set_last_error(s.message);
  return s.code;
}

inline cuclip_status fail(cuclip_status code, const std::string& msg) { return fail(Err(code, msg)); }

// probs[i] = softmax over the classes of exp(logit_scale) * <emb[i], class rows> + logit_bias, in
// double, for emb[n, D] (unit rows); a non-finite embedding (a failed image) gives a NaN row.
inline void host_zero_shot(const cuclip_classifier& clf, const float* emb, int n, float* probs) {
  const cuclip::ModelConfig& c = clf.ctx->model->config();
  const int D = c.embed_dim, K = clf.n_classes;
  const double scale = std::exp((double)c.logit_scale), bias = c.logit_bias ? *c.logit_bias : 0.0;
  std::vector<double> z((size_t)K);
  for (int i = 0; i < n; ++i) {
    const float* e = emb + (size_t)i * D;
    float* p = probs + (size_t)i * K;
    bool finite = true;
    for (int d = 0; d < D && finite; ++d) finite = std::isfinite(e[d]);
    if (!finite) {  // a failed image's NaN row stays NaN
      std::fill(p, p + K, std::numeric_limits<float>::quiet_NaN());
      continue;
    }
    double mx = -INFINITY;
    for (int k = 0; k < K; ++k) {
      double dot = 0;
      const float* w = clf.weights.data() + (size_t)k * D;
      for (int d = 0; d < D; ++d) dot += (double)e[d] * w[d];
      z[(size_t)k] = scale * dot + bias;
      mx = std::max(mx, z[(size_t)k]);
    }
    double sum = 0;
    for (int k = 0; k < K; ++k) sum += (z[(size_t)k] = std::exp(z[(size_t)k] - mx));
    for (int k = 0; k < K; ++k) p[k] = (float)(z[(size_t)k] / sum);
  }
}

// The k most probable of probs[K]: highest first, NaN last, ties to the lower index (out_p may be null).
inline void host_top_k(const float* probs, int K, int k, int* out_idx, float* out_p) {
  std::vector<int> idx((size_t)K);
  for (int i = 0; i < K; ++i) idx[(size_t)i] = i;
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) {
    const float pa = probs[a], pb = probs[b];
    if (std::isnan(pa) != std::isnan(pb)) return std::isnan(pb);
    if (pa != pb) return pa > pb;
    return a < b;
  });
  for (int i = 0; i < k; ++i) {
    out_idx[i] = idx[(size_t)i];
    if (out_p) out_p[i] = probs[idx[(size_t)i]];
  }
}

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

inline void fill_nan(float* row, int D) { std::fill(row, row + D, std::numeric_limits<float>::quiet_NaN()); }

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

// A failed item i: its status, a NaN row (D wide) in out and -1 indices in out_idx (if set).
inline void fail_item(BatchResult& r, size_t i, const Status& s, int D, float* out, int* out_idx) {
  r.st[i] = s.code;
  r.msg[i] = s.message;
  fill_nan(out + i * D, D);
  if (out_idx) std::fill(out_idx + i * D, out_idx + (i + 1) * D, -1);
}

// Item i's output row in out: a forward's row (and, with out_idx, its top-k index row) when s is
// ok, else fail_item.
inline void put_item(BatchResult& r, size_t i, const Status& s, int D, const float* row, const int32_t* idx_row,
                     float* out, int* out_idx) {
  if (!s.ok()) return fail_item(r, i, s, D, out, out_idx);
  std::copy(row, row + D, out + i * D);
  if (out_idx) std::copy(idx_row, idx_row + D, out_idx + i * D);
}

// One forward of B items, an allocation failure inside it turned into the batch's status.
template <class F>
Status forward_status(int B, F&& forward) {
  try {
    return forward();
  } catch (const std::bad_alloc&) {
    return Err(CUCLIP_ERR_OUT_OF_MEMORY, "out of memory in the forward pass (batch of " + std::to_string(B) + ")");
  }
}

// Encodes the rows prepared in `inputs` (row stride `stride` elements; item i's row is i - base)
// for the items listed in `good`, writing out rows (D wide) at the items' own indices, and, when
// out_idx is set, the int rows run() also gives (top-k class indices; -1 for a failed item).
template <class T, class Run>
void run_chunks(cuclip_context* ctx, const std::vector<int>& good, const T* inputs, size_t stride, int D, float* out,
                int* out_idx, BatchResult& r, Run&& run, int base = 0) {
  const int mb = ctx->params.max_batch;
  std::vector<float> emb((size_t)mb * D);
  std::vector<int32_t> idx(out_idx ? (size_t)mb * D : 0);
  std::vector<T> chunk;  // only when a chunk's good items are not consecutive
  const Status active = good.empty() ? Status::Ok() : ctx->be->activate();
  if (!active.ok()) {
    for (int i : good) fail_item(r, (size_t)i, active, D, out, out_idx);
    return;
  }
  for (size_t start = 0; start < good.size(); start += (size_t)mb) {
    const int nb = (int)std::min<size_t>((size_t)mb, good.size() - start);
    const T* rows = inputs + (size_t)(good[start] - base) * stride;
    if (good[start + (size_t)nb - 1] - good[start] != nb - 1) {  // a failed item in between: gather
      chunk.resize((size_t)mb * stride);
      for (int j = 0; j < nb; ++j)
        std::copy(inputs + (size_t)(good[start + j] - base) * stride, inputs + (size_t)(good[start + j] - base + 1) * stride,
                  chunk.begin() + (size_t)j * stride);
      rows = chunk.data();
    }
    const Status s = forward_status(nb, [&] { return run(nb, rows, emb.data(), idx.data()); });
    for (int j = 0; j < nb; ++j)
      put_item(r, (size_t)good[start + j], s, D, emb.data() + (size_t)j * D, out_idx ? idx.data() + (size_t)j * D : nullptr,
               out, out_idx);
  }
}

inline int decode_threads(const cuclip_context* ctx) { return ctx->params.n_threads > 0 ? ctx->params.n_threads : omp_get_num_procs(); }

inline img::DecodeOptions decode_options(const cuclip_context* ctx) {
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

}  // namespace cuclip::capi
