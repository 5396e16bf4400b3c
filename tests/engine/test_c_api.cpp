// The C API's contract: argument checking, statuses and messages, per-item statuses in batches
// (a bad item never changes the good ones), NaN rows, zero-shot classification and top-k.
#include <cmath>
#include <cstring>
#include <fstream>
#include <thread>

#include "common/testing.hpp"
#include "cuclip.h"
#include "fixture_models.hpp"

using namespace cuclip_test;

namespace {

struct Fixture {
  cuclip_model* m = nullptr;
  cuclip_context* ctx = nullptr;
  int D = 0;
  explicit Fixture(const std::string& name = "openclip_openai_quickgelu_f32", int max_batch = 3) {
    REQUIRE(cuclip_model_load(converted_fixture(name).c_str(), cuclip_model_default_params(), &m) == CUCLIP_OK);
    cuclip_context_params p = cuclip_context_default_params();
    p.backend = CUCLIP_BACKEND_CPU;  // AUTO would pick CUDA on a machine with a GPU
    p.max_batch = max_batch;
    REQUIRE(cuclip_context_create(m, p, &ctx) == CUCLIP_OK);
    D = cuclip_model_embed_dim(m);
  }
  ~Fixture() {
    cuclip_context_free(ctx);
    cuclip_model_free(m);
  }
};

std::string image(const char* f) { return data_path(std::string("reference/images/") + f); }

}  // namespace

TEST_CASE("version_and_status_strings") {
  CHECK(std::string(cuclip_version()).find('.') != std::string::npos);
  CHECK(std::string(cuclip_status_string(CUCLIP_OK)) == "ok");
  CHECK(std::string(cuclip_status_string(CUCLIP_ERR_INVALID_MODEL)) == "invalid model");
  CHECK(std::string(cuclip_status_string((cuclip_status)999)) == "unknown status");
  // Codes are part of the ABI: never renumbered.
  CHECK(CUCLIP_ERR_INVALID_ARGUMENT == 1);
  CHECK(CUCLIP_ERR_INVALID_IMAGE == 9);
  CHECK(CUCLIP_ERR_UNSUPPORTED == 16);
}

TEST_CASE("model_load_errors_name_the_file_and_leave_out_null") {
  cuclip_model* m = (cuclip_model*)0x1;
  CHECK(cuclip_model_load("/nonexistent/model.cuclip", cuclip_model_default_params(), &m) == CUCLIP_ERR_IO);
  CHECK(m == nullptr);
  CHECK(std::string(cuclip_last_error()).find("/nonexistent/model.cuclip") != std::string::npos);
  CHECK(cuclip_model_load(nullptr, cuclip_model_default_params(), &m) == CUCLIP_ERR_INVALID_ARGUMENT);
  const std::string junk = temp_dir() + "/junk.cuclip";
  std::ofstream(junk) << "this is not a model file at all, just some words";
  CHECK(cuclip_model_load(junk.c_str(), cuclip_model_default_params(), &m) == CUCLIP_ERR_BAD_MAGIC);
}

TEST_CASE("last_error_is_thread_local") {
  cuclip_model* m = nullptr;
  CHECK(cuclip_model_load("/nonexistent/a.cuclip", cuclip_model_default_params(), &m) == CUCLIP_ERR_IO);
  std::string other;
  std::thread t([&] { other = cuclip_last_error(); });
  t.join();
  CHECK(other.empty());
  CHECK(std::string(cuclip_last_error()).find("a.cuclip") != std::string::npos);
}

TEST_CASE("context_rejects_bad_params_and_unavailable_backends") {
  Fixture f;
  cuclip_context* c = nullptr;
  cuclip_context_params p = cuclip_context_default_params();
  p.max_batch = 0;
  CHECK(cuclip_context_create(f.m, p, &c) == CUCLIP_ERR_INVALID_ARGUMENT);
  p = cuclip_context_default_params();
  p.backend = CUCLIP_BACKEND_CPU;
  p.dtype = CUCLIP_DTYPE_F16;
  CHECK(cuclip_context_create(f.m, p, &c) == CUCLIP_ERR_UNSUPPORTED);
  p = cuclip_context_default_params();
  p.backend = (cuclip_backend)42;
  CHECK(cuclip_context_create(f.m, p, &c) == CUCLIP_ERR_INVALID_ARGUMENT);
  CHECK(c == nullptr);
  CHECK(cuclip_context_backend(f.ctx) == CUCLIP_BACKEND_CPU);
  CHECK(cuclip_context_dtype(f.ctx) == CUCLIP_DTYPE_F32);
}

TEST_CASE("tokenize_checks_capacity_and_utf8") {
  Fixture f;
  int32_t ids[77];
  int n = 0;
  CHECK(cuclip_tokenize(f.m, "a cat", 0, ids, 10, &n) == CUCLIP_ERR_BUFFER_TOO_SMALL);
  REQUIRE(cuclip_tokenize(f.m, "a cat", 0, ids, 77, &n) == CUCLIP_OK);
  CHECK(n == 77);
  CHECK(ids[0] == 49406);
  REQUIRE(cuclip_tokenize(f.m, "a cat", 5, ids, 77, &n) == CUCLIP_OK);
  CHECK(n == 5);
  CHECK(cuclip_tokenize(f.m, "bad \xff utf8", 0, ids, 77, &n) == CUCLIP_ERR_INVALID_TEXT);
}

TEST_CASE("a_bad_text_in_a_batch_gets_its_own_status_and_nan_row_and_the_rest_equal_their_single_results") {
  Fixture f;
  const char* texts[5] = {"a red circle", "\xc3\x28 invalid", "a photo of a dog", nullptr, "two words"};
  std::vector<float> out(5 * f.D, 0.0f);
  cuclip_status st[5];
  CHECK(cuclip_encode_texts(f.ctx, texts, 5, out.data(), st) == CUCLIP_ERR_INVALID_TEXT);
  CHECK(st[0] == CUCLIP_OK);
  CHECK(st[1] == CUCLIP_ERR_INVALID_TEXT);
  CHECK(st[2] == CUCLIP_OK);
  CHECK(st[3] == CUCLIP_ERR_INVALID_ARGUMENT);
  CHECK(st[4] == CUCLIP_OK);
  CHECK(std::string(cuclip_last_error()).find("text 1") != std::string::npos);
  for (int i : {1, 3})
    for (int d = 0; d < f.D; ++d) CHECK(std::isnan(out[i * f.D + d]));
  for (int i : {0, 2, 4}) {
    std::vector<float> alone(f.D);
    REQUIRE(cuclip_encode_texts(f.ctx, &texts[i], 1, alone.data(), nullptr) == CUCLIP_OK);
    // Exactly equal: the batch runs each item through the same arithmetic as alone.
    for (int d = 0; d < f.D; ++d) CHECK(out[i * f.D + d] == alone[d]);
  }
}

TEST_CASE("a_bad_image_in_a_batch_never_loses_the_good_ones") {
  Fixture f;
  const std::string junk = temp_dir() + "/not_an_image.png";
  std::ofstream(junk) << "definitely not a png";
  const std::string a = image("rgb_scene_121x91.jpg"), b = image("palette_33x57.png"), c = image("wide_strip_200x30.jpg");
  const char* paths[6] = {a.c_str(), junk.c_str(), b.c_str(), "/nonexistent.png", c.c_str(), a.c_str()};
  std::vector<float> out(6 * f.D);
  cuclip_status st[6];
  CHECK(cuclip_encode_image_files(f.ctx, paths, 6, out.data(), st) != CUCLIP_OK);
  CHECK(st[0] == CUCLIP_OK);
  CHECK(st[1] != CUCLIP_OK);
  CHECK(st[3] == CUCLIP_ERR_IO);
  for (int i : {1, 3}) CHECK(std::isnan(out[i * f.D]));
  for (int i : {0, 2, 4, 5}) {
    std::vector<float> alone(f.D);
    REQUIRE(cuclip_encode_image_files(f.ctx, &paths[i], 1, alone.data(), nullptr) == CUCLIP_OK);
    for (int d = 0; d < f.D; ++d) CHECK(out[i * f.D + d] == alone[d]);
    double n2 = 0;
    for (int d = 0; d < f.D; ++d) n2 += (double)alone[d] * alone[d];
    CHECK(std::fabs(n2 - 1.0) < 1e-5);  // L2-normalized (float rounding of D squares)
  }
}

TEST_CASE("pixels_and_buffers_encode_like_files") {
  Fixture f;
  const std::string p = image("rgb_gradient_64x48.png");
  std::ifstream in(p, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
  const void* data[1] = {bytes.data()};
  size_t sizes[1] = {bytes.size()};
  std::vector<float> from_buf(f.D), from_file(f.D);
  const char* paths[1] = {p.c_str()};
  REQUIRE(cuclip_encode_image_buffers(f.ctx, data, sizes, 1, from_buf.data(), nullptr) == CUCLIP_OK);
  REQUIRE(cuclip_encode_image_files(f.ctx, paths, 1, from_file.data(), nullptr) == CUCLIP_OK);
  CHECK(from_buf == from_file);
  // Raw pixels with a padded stride: a 4x3 gray gradient as L8 and as RGB8 give the same result.
  uint8_t l8[3 * 8], rgb[3 * 12];
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 4; ++x) {
      l8[y * 8 + x] = (uint8_t)(40 * x + 50 * y);
      for (int c = 0; c < 3; ++c) rgb[y * 12 + x * 3 + c] = (uint8_t)(40 * x + 50 * y);
    }
  cuclip_image_view v[3] = {{l8, 4, 3, 8, CUCLIP_PIXELS_L8}, {rgb, 4, 3, 12, CUCLIP_PIXELS_RGB8}, {nullptr, 4, 3, 0, CUCLIP_PIXELS_RGB8}};
  std::vector<float> out(3 * f.D);
  cuclip_status st[3];
  CHECK(cuclip_encode_image_pixels(f.ctx, v, 3, out.data(), st) == CUCLIP_ERR_INVALID_ARGUMENT);
  CHECK(st[0] == CUCLIP_OK);
  CHECK(st[1] == CUCLIP_OK);
  for (int d = 0; d < f.D; ++d) CHECK(out[d] == out[f.D + d]);
}

TEST_CASE("token_ids_are_validated_per_item") {
  Fixture f;
  std::vector<int32_t> ids(2 * 77, 0);
  ids[0] = 49406;
  ids[1] = 320;
  ids[2] = 49407;
  ids[77] = 49406;
  ids[78] = 60000;  // outside the vocab
  std::vector<float> out(2 * f.D);
  cuclip_status st[2];
  CHECK(cuclip_encode_token_ids(f.ctx, ids.data(), 2, 77, out.data(), st) == CUCLIP_ERR_INVALID_ARGUMENT);
  CHECK(st[0] == CUCLIP_OK);
  CHECK(st[1] == CUCLIP_ERR_INVALID_ARGUMENT);
  CHECK(std::isnan(out[f.D]));
  CHECK(cuclip_encode_token_ids(f.ctx, ids.data(), 1, 78, out.data(), st) == CUCLIP_ERR_INVALID_ARGUMENT);
}

TEST_CASE("similarity_is_scaled_cosine") {
  Fixture f;
  std::vector<float> a(f.D, 0.0f), b(f.D, 0.0f);
  a[0] = 1;
  b[0] = 0.6f;
  b[1] = 0.8f;
  float lg = 0;
  REQUIRE(cuclip_similarity(f.m, a.data(), 1, b.data(), 1, &lg) == CUCLIP_OK);
  CHECK(lg == Approx(0.6 * cuclip_model_logit_scale(f.m)).epsilon(1e-6));
}

TEST_CASE("zero_shot_classifier_averages_templates_and_classifies") {
  Fixture f;
  const char* classes[3] = {"cat", "dog", "car"};
  const char* tmpl[2] = {"a photo of a {}.", "a drawing of a {}."};
  cuclip_classifier* clf = nullptr;
  REQUIRE(cuclip_classifier_create(f.ctx, classes, 3, tmpl, 2, &clf) == CUCLIP_OK);
  CHECK(cuclip_classifier_n_classes(clf) == 3);
  // An image embedding equal to a class's (mean of normalized template embeddings, renormalized)
  // must be classified as that class, and probabilities must sum to 1.
  std::vector<float> e(2 * f.D);
  const char* prompts[2] = {"a photo of a dog.", "a drawing of a dog."};
  REQUIRE(cuclip_encode_texts(f.ctx, prompts, 2, e.data(), nullptr) == CUCLIP_OK);
  std::vector<float> mean(f.D);
  double n2 = 0;
  for (int d = 0; d < f.D; ++d) { mean[d] = (e[d] + e[f.D + d]) / 2; n2 += (double)mean[d] * mean[d]; }
  for (int d = 0; d < f.D; ++d) mean[d] = (float)(mean[d] / std::sqrt(n2));
  float probs[3];
  REQUIRE(cuclip_classify_embeddings(clf, mean.data(), 1, probs) == CUCLIP_OK);
  CHECK(probs[0] + probs[1] + probs[2] == Approx(1.0).epsilon(1e-5));
  int idx[3];
  float p[3];
  REQUIRE(cuclip_top_k(probs, 3, 3, idx, p) == CUCLIP_OK);
  CHECK(idx[0] == 1);
  CHECK(p[0] >= p[1]);
  CHECK(p[1] >= p[2]);
  CHECK(cuclip_top_k(probs, 3, 4, idx, p) == CUCLIP_ERR_INVALID_ARGUMENT);
  // Files: a bad image keeps its NaN row and status; the good one is classified.
  const std::string good = image("rgb_scene_121x91.jpg");
  const char* paths[2] = {"/nonexistent.jpg", good.c_str()};
  float pr[6];
  cuclip_status st[2];
  CHECK(cuclip_classify_image_files(clf, paths, 2, pr, st) == CUCLIP_ERR_IO);
  CHECK(std::isnan(pr[0]));
  CHECK(st[1] == CUCLIP_OK);
  CHECK(pr[3] + pr[4] + pr[5] == Approx(1.0).epsilon(1e-5));
  // The top-k entry point: the same classes in cuclip_top_k's order, -1 / NaN for the bad image.
  for (int k : {1, 2, 3}) {
    INFO("k " << k);
    int ti[6];
    float tp[6];
    cuclip_status ts[2];
    CHECK(cuclip_classify_image_files_top_k(clf, paths, 2, k, ti, tp, ts) == CUCLIP_ERR_IO);
    CHECK(ts[0] == CUCLIP_ERR_IO);
    CHECK(ts[1] == CUCLIP_OK);
    int want_i[3];
    float want_p[3];
    REQUIRE(cuclip_top_k(pr + 3, 3, k, want_i, want_p) == CUCLIP_OK);
    for (int r = 0; r < k; ++r) {
      CHECK(ti[r] == -1);
      CHECK(std::isnan(tp[r]));
      CHECK(ti[k + r] == want_i[r]);
      CHECK(tp[k + r] == want_p[r]);
    }
    CHECK(cuclip_classify_image_files_top_k(clf, paths + 1, 1, k, ti, nullptr, nullptr) == CUCLIP_OK);  // probs optional
    CHECK(ti[0] == want_i[0]);
  }
  int ti[4];
  CHECK(cuclip_classify_image_files_top_k(clf, paths, 1, 0, ti, nullptr, nullptr) == CUCLIP_ERR_INVALID_ARGUMENT);
  CHECK(cuclip_classify_image_files_top_k(clf, paths, 1, 4, ti, nullptr, nullptr) == CUCLIP_ERR_INVALID_ARGUMENT);
  CHECK(cuclip_classify_image_files_top_k(clf, paths, 1, 1, nullptr, nullptr, nullptr) == CUCLIP_ERR_INVALID_ARGUMENT);
  cuclip_classifier_free(clf);
}

TEST_CASE("bundled_openai_templates") {
  CHECK(cuclip_openai_imagenet_template_count() == 80);
  CHECK(std::string(cuclip_openai_imagenet_template(0)) == "a bad photo of a {}.");
  CHECK(cuclip_openai_imagenet_template(80) == nullptr);
}
