// Image batches of the C API: every image entry point (files, buffers, caller pixels, zero-shot
// classification) runs through encode_images_impl with a `decode` of its own; on a backend that
// resizes on its device, through encode_images_resized.
#pragma once
#include <exception>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "base/file.hpp"
#include "c_api_internal.hpp"
#include "forward.hpp"
#include "resize_batch.hpp"

namespace cuclip::capi {

// An image the caller's memory holds as it is: RGB or L, `stride` bytes per row.
struct BorrowedPixels {
  const uint8_t* px = nullptr;
  size_t stride = 0;
  int width = 0, height = 0;
  img::Mode mode = img::Mode::RGB;
};

// Where a chunk's preprocessed pixels go: uint8 images straight into the backend's upload buffer
// when it has one (pinned memory on a GPU), else the context's scratch buffer, grown as needed.
inline unsigned char* chunk_pixels(cuclip_context* ctx, size_t bytes, bool u8) {
  if (u8)
    if (void* direct = ctx->be->pixel_staging(bytes)) return static_cast<unsigned char*>(direct);
  if (bytes > ctx->pixel_capacity) {
    ctx->pixel_scratch.reset();  // release the old buffer before asking for the larger one
    ctx->pixel_capacity = 0;
    ctx->pixel_scratch.reset(new unsigned char[bytes]);  // aligned for float (new[]'s default alignment)
    ctx->pixel_capacity = bytes;
  }
  return ctx->pixel_scratch.get();
}

// What an image batch produces: embeddings [n, D] without a classifier; with one, probabilities
// [n, K], or with top_k > 0 the top_k best classes, probabilities in out [n, top_k] and class
// indices in out_idx [n, top_k] (-1 for a failed image). A classifier with a device head
// classifies on the device; otherwise the embeddings are classified here, chunk by chunk.
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
    if (clf->head) return classify_images(*ctx->be, cfg, B, in, *clf->head, scale, bias, top_k, out_rows, idx_rows);
    const int K = clf->n_classes;
    std::vector<float> emb((size_t)B * cfg.embed_dim), probs(top_k > 0 ? (size_t)B * K : 0);
    CUCLIP_TRY(encode_images(*ctx->be, cfg, B, in, emb.data()));
    float* p = top_k > 0 ? probs.data() : out_rows;
    host_zero_shot(*clf, emb.data(), B, p);
    for (int b = 0; top_k > 0 && b < B; ++b)
      host_top_k(p + (size_t)b * K, K, top_k, idx_rows + (size_t)b * top_k, out_rows + (size_t)b * top_k);
    return Status::Ok();
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
  const int S = cfg.vision.image_size, D = task.row_width(cfg), mb = ctx->params.max_batch;  // D: out's row width
  const size_t px = (size_t)3 * S * S;
  const bool u8 = ctx->be->takes_u8_pixels();
  BatchResult r(n);
  float lut[3 * 256];
  img::normalize_lut(preset, lut);
  std::vector<Status> st((size_t)std::min(n, mb));
  // Chunks of max_batch items, so that the pixels held at once stay max_batch images whatever n is.
  for (int start = 0; start < n; start += mb) {
    const int m = std::min(mb, n - start);
    const size_t bytes = (size_t)m * px * (u8 ? 1 : sizeof(float));
    unsigned char* pixels = chunk_pixels(ctx, bytes, u8);
    uint8_t* rgb = u8 ? pixels : nullptr;
    float* f32 = u8 ? nullptr : reinterpret_cast<float*>(pixels);
    for_each_item(ctx, m, st.data(), [&](int i) {
      img::Image im;
      Status s = decode(start + i, &im, nullptr);
      if (s.ok() && u8) {
        std::vector<uint8_t> one;
        s = img::preprocess_u8(im, preset, &one);
        if (s.ok()) std::copy(one.begin(), one.end(), rgb + (size_t)i * px);
      } else if (s.ok()) {
        s = img::preprocess(im, preset, f32 + (size_t)i * px);
      }
      return s;
    });
    std::vector<int> good;  // item indices, global
    for (int i = 0; i < m; ++i) {
      if (st[(size_t)i].ok()) good.push_back(start + i);
      else fail_item(r, (size_t)(start + i), st[(size_t)i], D, out, task.out_idx);
    }
    if (u8)
      run_chunks(ctx, good, static_cast<const uint8_t*>(rgb), px, D, out, task.out_idx, r,
                 [&](int nb, const uint8_t* chunk, float* rows, int32_t* idx) {
                   return task.forward(ctx, nb, ImageInput{nullptr, chunk, nullptr, lut}, rows, idx);
                 }, start);
    else
      run_chunks(ctx, good, static_cast<const float*>(f32), px, D, out, task.out_idx, r,
                 [&](int nb, const float* chunk, float* rows, int32_t* idx) {
                   return task.forward(ctx, nb, ImageInput{chunk, nullptr, nullptr, nullptr}, rows, idx);
                 }, start);
  }
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
    auto forward = [&](const ImageInput& in) {
      return forward_status(B, [&] { return task.forward(ctx, B, in, emb.data(), idx.data()); });
    };
    Status run;
    std::vector<Status> written((size_t)B);
    if (staging) {
      for_each_item(ctx, B, written.data(), [&](int j) {
        const int i = rows[(size_t)j];
        const BorrowedPixels& v = c.views[(size_t)i];
        if (!c.on_device[(size_t)i])  // the host's S x S x 3 result
          write_resize_item(layout, j, identity, c.host_rgb[(size_t)i].data(), (size_t)3 * S, staging);
        else if (v.px)
          write_resize_item(layout, j, c.plans[(size_t)i], resize_source(v.px, v.stride, c.plans[(size_t)i]), v.stride, staging);
        else
          write_resize_item(layout, j, c.plans[(size_t)i], c.ims[(size_t)i], staging);
        return Status::Ok();
      });
      run = forward(ImageInput{nullptr, nullptr, &layout, lut});
    } else if (B > 0) {  // no staging memory (a small device): the host preprocesses the chunk
      const size_t px = (size_t)3 * S * S, bytes = (size_t)B * px;
      uint8_t* rgb = chunk_pixels(ctx, bytes, true);
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
      const bool in_batch = j < B && rows[(size_t)j] == i;
      const Status& s = !c.st[(size_t)i].ok() ? c.st[(size_t)i] : run;
      put_item(r, g, s, D, emb.data() + (size_t)j * D, task.out_idx ? idx.data() + (size_t)j * D : nullptr, out,
               task.out_idx);
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
inline auto decode_files(cuclip_context* ctx, const char* const* paths) {
  return [=](int i, img::Image* im, BorrowedPixels*) -> Status {
    if (!paths[i]) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "path is NULL");
    std::vector<uint8_t> bytes;
    Status s = read_file(paths[i], 1ull << 31, &bytes);
    if (s.ok()) s = img::decode_memory_for_preset(bytes.data(), bytes.size(), decode_options(ctx), ctx->model->preset(), im);
    if (!s.ok()) s.message = std::string(paths[i]) + ": " + s.message;
    return s;
  };
}

}  // namespace cuclip::capi
