/*
 * cuclip.h — the C API of cuclip, a CUDA inference engine for CLIP models.
 *
 * Usage:
 *
 *   cuclip_model * model = NULL;
 *   cuclip_model_params mp = cuclip_model_default_params();
 *   if (cuclip_model_load("shapes.cuclip", mp, &model) != CUCLIP_OK) {
 *       fprintf(stderr, "%s\n", cuclip_last_error());
 *       return 1;
 *   }
 *   cuclip_context_params cp = cuclip_context_default_params();   // backend auto: CUDA if present
 *   cuclip_context * ctx = NULL;
 *   if (cuclip_context_create(model, cp, &ctx) != CUCLIP_OK) { ... }
 *
 *   const int D = cuclip_model_embed_dim(model);
 *   const char * texts[2] = { "a red circle", "a blue square" };
 *   float text_emb[2 * D];                      // caller-owned, row-major [n, D]
 *   cuclip_status st[2];                        // per-item status
 *   cuclip_encode_texts(ctx, texts, 2, text_emb, st);
 *
 *   const char * images[1] = { "photo.png" };
 *   float img_emb[1 * D];
 *   cuclip_encode_image_files(ctx, images, 1, img_emb, st);
 *
 *   float logits[1 * 2];
 *   cuclip_similarity(model, img_emb, 1, text_emb, 2, logits);
 *
 *   cuclip_context_free(ctx);
 *   cuclip_model_free(model);
 *
 * Threading: a cuclip_model is immutable after loading and may be shared by any number of threads.
 * A cuclip_context must be used by one thread at a time (create one per thread or stream).
 * cuclip_last_error() is thread-local. Every other function is thread-safe.
 *
 * Errors: functions return a cuclip_status (CUCLIP_OK = 0); on failure cuclip_last_error()
 * gives a message naming what was wrong. The library never exits, aborts or prints: diagnostics
 * go to the log callback, if one is set.
 *
 * Embeddings are float32, row-major [n, embed_dim], L2-normalized. A batch item that fails gets
 * its own status and a row of NaN; the other items are unaffected and identical to what they
 * would be alone.
 */
#ifndef CUCLIP_H
#define CUCLIP_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32) && defined(CUCLIP_SHARED_BUILD)
#define CUCLIP_API __declspec(dllexport)
#elif defined(__GNUC__)
#define CUCLIP_API __attribute__((visibility("default")))
#else
#define CUCLIP_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes. Values are stable: codes are never renumbered, new ones are added at the end. */
typedef enum cuclip_status {
    CUCLIP_OK = 0,
    CUCLIP_ERR_INVALID_ARGUMENT = 1,   /* a NULL pointer, negative count, unknown enum value, ... */
    CUCLIP_ERR_IO = 2,                 /* a file could not be opened, read or written */
    CUCLIP_ERR_BAD_MAGIC = 3,          /* not a cuclip model file */
    CUCLIP_ERR_UNSUPPORTED_VERSION = 4,/* a cuclip file of a format version this build cannot read */
    CUCLIP_ERR_INVALID_MODEL = 5,      /* a model file (or a source checkpoint) failed validation */
    CUCLIP_ERR_CHECKSUM = 6,           /* stored and computed checksums differ */
    CUCLIP_ERR_OUT_OF_MEMORY = 7,      /* host or device allocation failed */
    CUCLIP_ERR_LIMIT_EXCEEDED = 8,     /* an input is over a configured cap (header, pixels, text) */
    CUCLIP_ERR_INVALID_IMAGE = 9,      /* corrupt, truncated or empty image data */
    CUCLIP_ERR_UNSUPPORTED_IMAGE = 10, /* an image format or mode cuclip cannot decode */
    CUCLIP_ERR_INVALID_TEXT = 11,      /* text that is not valid UTF-8 */
    CUCLIP_ERR_BACKEND_UNAVAILABLE = 12, /* the requested backend is not built in or has no device */
    CUCLIP_ERR_DEVICE = 13,            /* a CUDA / cuBLAS call failed */
    CUCLIP_ERR_BUFFER_TOO_SMALL = 14,  /* a caller buffer is smaller than the result */
    CUCLIP_ERR_INTERNAL = 15,          /* a bug in cuclip: please report it */
    CUCLIP_ERR_UNSUPPORTED = 16        /* a valid request this build does not support */
} cuclip_status;

/* A short constant English name for a status ("ok", "invalid model", ...). Never NULL. */
CUCLIP_API const char * cuclip_status_string(cuclip_status status);

/* The message of the last error on the calling thread ("" if none). Valid until the next cuclip
 * call on this thread. */
CUCLIP_API const char * cuclip_last_error(void);

typedef enum cuclip_log_level {
    CUCLIP_LOG_ERROR = 0,
    CUCLIP_LOG_WARN = 1,
    CUCLIP_LOG_INFO = 2,
    CUCLIP_LOG_DEBUG = 3
} cuclip_log_level;

/* Installs a log callback (NULL: discard logs, the default). Process-wide; may be called from any
 * thread, and the callback may be called from any thread. */
typedef void (*cuclip_log_callback)(cuclip_log_level level, const char * message, void * user_data);
CUCLIP_API void cuclip_set_log_callback(cuclip_log_callback callback, void * user_data);

/* "MAJOR.MINOR.PATCH" of the library. */
CUCLIP_API const char * cuclip_version(void);

/* ---------------------------------------------------------------------------------------------- */
/* Models                                                                                          */

typedef struct cuclip_model cuclip_model;

typedef struct cuclip_model_params {
    int verify_checksums;        /* 1: check every tensor's CRC32 at load (reads the whole file). Default 0. */
    uint64_t max_header_bytes;   /* cap on the JSON header size, bytes. Default 256 MiB. */
    uint64_t max_tensor_count;   /* cap on the number of tensors. Default 65536. */
} cuclip_model_params;

CUCLIP_API cuclip_model_params cuclip_model_default_params(void);

/* Maps and validates a .cuclip file. On failure *out is NULL and the status says why:
 * CUCLIP_ERR_IO, CUCLIP_ERR_BAD_MAGIC, CUCLIP_ERR_UNSUPPORTED_VERSION, CUCLIP_ERR_INVALID_MODEL,
 * CUCLIP_ERR_LIMIT_EXCEEDED, CUCLIP_ERR_CHECKSUM (with verify_checksums), CUCLIP_ERR_OUT_OF_MEMORY. */
CUCLIP_API cuclip_status cuclip_model_load(const char * path, cuclip_model_params params, cuclip_model ** out);
/* Frees a model. Every context created from it must be freed first. NULL is a no-op. */
CUCLIP_API void cuclip_model_free(cuclip_model * model);

CUCLIP_API int cuclip_model_embed_dim(const cuclip_model * model);      /* D: length of an embedding */
CUCLIP_API int cuclip_model_image_size(const cuclip_model * model);     /* input side, pixels */
CUCLIP_API int cuclip_model_context_length(const cuclip_model * model); /* text tokens incl. SOT/EOT */
CUCLIP_API float cuclip_model_logit_scale(const cuclip_model * model);  /* exp(logit_scale) */
CUCLIP_API float cuclip_model_logit_bias(const cuclip_model * model);   /* 0 when the model has none */
/* The model's JSON header without the tensor data (config, preprocessing, tokenizer sizes,
 * tensor table). Owned by the model. */
CUCLIP_API const char * cuclip_model_info_json(const cuclip_model * model);
/* Checks every tensor's checksum and scans for NaN/Inf. CUCLIP_OK, or CUCLIP_ERR_CHECKSUM /
 * CUCLIP_ERR_INVALID_MODEL with the failing tensors named in cuclip_last_error(). */
CUCLIP_API cuclip_status cuclip_model_verify(const cuclip_model * model);

/* ---------------------------------------------------------------------------------------------- */
/* Tokenizer                                                                                       */

/* Tokenizes one UTF-8 text with the model's tokenizer: [SOT] ids [EOT], truncated to
 * context_length (EOT kept last), padded with the pad id. context_length <= 0 means the model's.
 * out_ids: caller-owned int32[capacity]; *n_out receives the number of ids written (the
 * context length). CUCLIP_ERR_BUFFER_TOO_SMALL when capacity < context length,
 * CUCLIP_ERR_INVALID_TEXT for invalid UTF-8. */
CUCLIP_API cuclip_status cuclip_tokenize(const cuclip_model * model, const char * text, int context_length,
                                         int32_t * out_ids, int capacity, int * n_out);

/* ---------------------------------------------------------------------------------------------- */
/* Contexts                                                                                        */

typedef enum cuclip_backend {
    CUCLIP_BACKEND_AUTO = 0,     /* CUDA if a device is present, else CPU */
    CUCLIP_BACKEND_CPU = 1,
    CUCLIP_BACKEND_CUDA = 2,
    CUCLIP_BACKEND_CUDA_EMU = 3  /* the CUDA backend's code run on the CPU under cuclip's emulator */
} cuclip_backend;

typedef enum cuclip_dtype {
    CUCLIP_DTYPE_AUTO = 0,       /* CPU: f32; CUDA: f16 */
    CUCLIP_DTYPE_F32 = 1,
    CUCLIP_DTYPE_F16 = 2,
    CUCLIP_DTYPE_BF16 = 3
} cuclip_dtype;

typedef struct cuclip_context cuclip_context;

typedef struct cuclip_context_params {
    cuclip_backend backend;   /* default CUCLIP_BACKEND_AUTO */
    int device;               /* CUDA device index. Default 0 */
    cuclip_dtype dtype;       /* compute dtype. Default CUCLIP_DTYPE_AUTO */
    int max_batch;            /* largest batch one forward runs; bigger requests are split. Default 32 */
    int n_threads;            /* CPU threads; 0 = all cores. Default 0 */
    uint64_t max_image_pixels;/* decoded width*height cap. Default 89478485 (Pillow's) */
    uint64_t max_text_bytes;  /* cap on one text, bytes. Default 1 MiB */
} cuclip_context_params;

CUCLIP_API cuclip_context_params cuclip_context_default_params(void);

/* Creates a context. CUCLIP_ERR_BACKEND_UNAVAILABLE when the backend is not built in or no device
 * exists; CUCLIP_ERR_OUT_OF_MEMORY when the workspace cannot be allocated. */
CUCLIP_API cuclip_status cuclip_context_create(const cuclip_model * model, cuclip_context_params params,
                                               cuclip_context ** out);
CUCLIP_API void cuclip_context_free(cuclip_context * ctx);
/* The backend actually in use (never AUTO) and its compute dtype (never AUTO). */
CUCLIP_API cuclip_backend cuclip_context_backend(const cuclip_context * ctx);
CUCLIP_API cuclip_dtype cuclip_context_dtype(const cuclip_context * ctx);

/* ---------------------------------------------------------------------------------------------- */
/* Encoding. Every function writes out[n * D] (D = cuclip_model_embed_dim) and, when statuses is
 * not NULL, statuses[n]. The return value is CUCLIP_OK when every item succeeded, the first item's
 * error otherwise (the other items are still computed), or an argument/backend error that
 * prevented the whole call. Failed rows are NaN. */

CUCLIP_API cuclip_status cuclip_encode_texts(cuclip_context * ctx, const char * const * texts, int n,
                                             float * out, cuclip_status * statuses);
/* ids: int32[n * context_length] as cuclip_tokenize produces them. */
CUCLIP_API cuclip_status cuclip_encode_token_ids(cuclip_context * ctx, const int32_t * ids, int n,
                                                 int context_length, float * out, cuclip_status * statuses);
CUCLIP_API cuclip_status cuclip_encode_image_files(cuclip_context * ctx, const char * const * paths, int n,
                                                   float * out, cuclip_status * statuses);
/* Encoded images (JPEG, PNG, ...) in memory: data[i] of sizes[i] bytes. */
CUCLIP_API cuclip_status cuclip_encode_image_buffers(cuclip_context * ctx, const void * const * data,
                                                     const size_t * sizes, int n, float * out,
                                                     cuclip_status * statuses);

typedef enum cuclip_pixel_format {
    CUCLIP_PIXELS_RGB8 = 0,
    CUCLIP_PIXELS_RGBA8 = 1,
    CUCLIP_PIXELS_L8 = 2
} cuclip_pixel_format;

typedef struct cuclip_image_view {
    const uint8_t * pixels;      /* interleaved, row-major */
    int width, height;           /* pixels */
    int stride;                  /* bytes between rows; 0 = width * channels */
    cuclip_pixel_format format;
} cuclip_image_view;

CUCLIP_API cuclip_status cuclip_encode_image_pixels(cuclip_context * ctx, const cuclip_image_view * images, int n,
                                                    float * out, cuclip_status * statuses);

/* Preprocesses one image file exactly as the model sees it: out float32[3 * S * S] (CHW,
 * normalized), S = cuclip_model_image_size. */
CUCLIP_API cuclip_status cuclip_preprocess_image_file(const cuclip_model * model, const char * path, float * out);

/* ---------------------------------------------------------------------------------------------- */
/* Similarity and zero-shot classification                                                         */

/* logits[n_images * n_texts] = exp(logit_scale) * dot(image_i, text_j) + logit_bias, for
 * L2-normalized embeddings. */
CUCLIP_API cuclip_status cuclip_similarity(const cuclip_model * model, const float * image_emb, int n_images,
                                           const float * text_emb, int n_texts, float * logits);

typedef struct cuclip_classifier cuclip_classifier;

/* Builds a zero-shot classifier: for each class, every template with "{}" replaced by the class
 * name is encoded; the normalized embeddings are averaged and renormalized (open_clip's
 * build_zero_shot_classifier). templates == NULL uses the model's default templates;
 * n_templates == 0 with templates != NULL means the class names are used as they are.
 * The classifier belongs to ctx and must be freed before it. */
CUCLIP_API cuclip_status cuclip_classifier_create(cuclip_context * ctx, const char * const * class_names,
                                                  int n_classes, const char * const * templates,
                                                  int n_templates, cuclip_classifier ** out);
CUCLIP_API void cuclip_classifier_free(cuclip_classifier * clf);
CUCLIP_API int cuclip_classifier_n_classes(const cuclip_classifier * clf);
/* probs[n * n_classes] = softmax over classes of the logits of each image embedding. */
CUCLIP_API cuclip_status cuclip_classify_embeddings(cuclip_classifier * clf, const float * image_emb, int n,
                                                    float * probs);
/* Encodes the image files and classifies them; failed images get NaN rows and their status. On a
   CUDA context the classification runs on the device too (only the probabilities come back). */
CUCLIP_API cuclip_status cuclip_classify_image_files(cuclip_classifier * clf, const char * const * paths, int n,
                                                     float * probs, cuclip_status * statuses);
/* The k most probable classes of one probability row, most probable first. */
CUCLIP_API cuclip_status cuclip_top_k(const float * probs, int n_classes, int k, int * out_indices,
                                      float * out_probs);
/* The k most probable classes of each image file: out_indices[n * k] and out_probs[n * k] (may be
 * NULL), most probable first, in cuclip_top_k's order; 1 <= k <= the classifier's classes. A failed
 * image gets indices -1, NaN probabilities and its status. On a CUDA context the selection runs on
 * the device as well: n * k pairs come back, whatever the number of classes. */
CUCLIP_API cuclip_status cuclip_classify_image_files_top_k(cuclip_classifier * clf, const char * const * paths, int n,
                                                           int k, int * out_indices, float * out_probs,
                                                           cuclip_status * statuses);

/* The 80 OpenAI ImageNet prompt templates ("a bad photo of a {}.", ...), bundled as data. */
CUCLIP_API int cuclip_openai_imagenet_template_count(void);
CUCLIP_API const char * cuclip_openai_imagenet_template(int i);

#ifdef __cplusplus
}
#endif

#endif /* CUCLIP_H */
