// The C API (include/cuclip.h) over Model, the backends and the forward pass. Every entry point
// catches everything: a C++ exception never crosses the boundary, allocation failure becomes
// CUCLIP_ERR_OUT_OF_MEMORY, and the detail goes to cuclip_last_error().
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "backend_factory.hpp"
#include "c_api_internal.hpp"   // the handles, status translation, per-item batches
#include "cuclip.h"
#include "forward.hpp"
#include "image_batches.hpp"    // encode_images_impl, decode_files
#include "model.hpp"
#include "templates.hpp"

using namespace cuclip;
using namespace cuclip::capi;

namespace {

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
    host_zero_shot(*clf, image_emb, n, probs);
    return CUCLIP_OK;
  });
}

cuclip_status cuclip_classify_image_files(cuclip_classifier* clf, const char* const* paths, int n, float* probs, cuclip_status* statuses) {
  return guarded([&] {
    if (!clf || n < 0 || (n > 0 && (!paths || !probs))) return fail(CUCLIP_ERR_INVALID_ARGUMENT, "clf, paths and probs must not be NULL");
    // On the device with a device head, else each chunk's embeddings are classified on the host.
    return encode_images_impl(clf->ctx, n, probs, statuses, decode_files(clf->ctx, paths), ImageTask{clf});
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
    // On a CUDA context the selection runs on the device (n * k pairs come back); elsewhere each
    // chunk's embeddings are classified and ranked on the host.
    return encode_images_impl(clf->ctx, n, probs, statuses, decode_files(clf->ctx, paths), ImageTask{clf, k, out_indices});
  });
}

cuclip_status cuclip_top_k(const float* probs, int n_classes, int k, int* out_indices, float* out_probs) {
  return guarded([&] {
    if (!probs || !out_indices || n_classes < 1 || k < 1 || k > n_classes)
      return fail(CUCLIP_ERR_INVALID_ARGUMENT, "probs and out_indices must not be NULL and 1 <= k <= n_classes");
    host_top_k(probs, n_classes, k, out_indices, out_probs);
    return CUCLIP_OK;
  });
}

int cuclip_openai_imagenet_template_count(void) { return (int)openai_imagenet_templates().size(); }
const char* cuclip_openai_imagenet_template(int i) {
  const auto& t = openai_imagenet_templates();
  return i >= 0 && i < (int)t.size() ? t[(size_t)i].c_str() : nullptr;
}

}  // extern "C"
