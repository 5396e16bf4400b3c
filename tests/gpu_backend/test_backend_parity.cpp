// The CUDA backend end to end against the CPU backend, through the C API, on every fixture of
// tests/data: texts (packed variable-length sequences) and images (ragged S/P grids included) in
// f32, f16 and bf16. Built twice (tests/gpu_backend/CMakeLists.txt): under the emulator it runs the
// `cuda-emu` backend (label emulated), on a GPU the `cuda` one (label gpu, skipped without a device).
#include <cmath>

#include "backend_testing.hpp"

using namespace cuclip_test;

namespace {

struct Embeddings {
  std::vector<float> text, image;
};

Embeddings encode_all(cuclip_context* ctx, const std::string& name, int D) {
  const auto texts = read_json_file(data_path("reference/" + name + "/texts.json"));
  std::vector<std::string> tv;
  for (const auto& t : texts) tv.push_back(t.get<std::string>());
  const std::vector<std::string> paths = fixture_image_paths(name);
  const std::vector<const char*> tp = c_strings(tv), pp = c_strings(paths);
  Embeddings e;
  e.text.resize(tv.size() * D);
  e.image.resize(paths.size() * D);
  REQUIRE(cuclip_encode_texts(ctx, tp.data(), (int)tp.size(), e.text.data(), nullptr) == CUCLIP_OK);
  REQUIRE(cuclip_encode_image_files(ctx, pp.data(), (int)pp.size(), e.image.data(), nullptr) == CUCLIP_OK);
  return e;
}

void require_cosine(const std::vector<float>& got, const std::vector<float>& ref, int D, double min_cos, const std::string& what) {
  REQUIRE(got.size() == ref.size());
  for (size_t r = 0; r < got.size() / D; ++r) {
    const double cos = cosine(got.data() + r * D, ref.data() + r * D, (size_t)D);
    INFO(what << " row " << r << ": cosine " << cos);
    CHECK(cos >= min_cos);
  }
}

}  // namespace

TEST_CASE("gpu_backend_matches_cpu_backend_on_every_fixture", "[gpu_backend]") {
  for (const std::string& name : kFixtures) {
    SECTION(name) {
      cuclip_model* m = nullptr;
      REQUIRE(cuclip_model_load(converted_fixture(name).c_str(), cuclip_model_default_params(), &m) == CUCLIP_OK);
      const int D = cuclip_model_embed_dim(m);
      Embeddings cpu;
      {
        Ctx c(m, CUCLIP_BACKEND_CPU, CUCLIP_DTYPE_AUTO, 32);
        cpu = encode_all(c.ctx, name, D);
      }
      // The bars. f32: both backends compute in f32 and differ in summation order only
      // (~1e-7 on unit vectors), so 0.99999 leaves two orders of magnitude. 16-bit: activations
      // rounded to 8 (bf16) or 11 (f16) bits at every op; 0.999 is the stated bar.
      struct Mode { cuclip_dtype dt; double min_cos; const char* label; };
      for (Mode mode : {Mode{CUCLIP_DTYPE_F32, 0.99999, "f32"}, Mode{CUCLIP_DTYPE_F16, 0.999, "f16"},
                        Mode{CUCLIP_DTYPE_BF16, 0.999, "bf16"}}) {
        // max_batch 3: the texts and images run in chunks of 3 and a remainder (odd batches).
        Ctx g(m, kGpuBackend, mode.dt, 3);
        CHECK(cuclip_context_backend(g.ctx) == kGpuBackend);
        CHECK(cuclip_context_dtype(g.ctx) == mode.dt);
        const Embeddings gpu = encode_all(g.ctx, name, D);
        require_cosine(gpu.text, cpu.text, D, mode.min_cos, name + " " + mode.label + " text");
        require_cosine(gpu.image, cpu.image, D, mode.min_cos, name + " " + mode.label + " image");
      }
      cuclip_model_free(m);
    }
  }
}

TEST_CASE("gpu_backend_matches_cpu_backend_on_the_bundled_patch_8_model", "[gpu_backend]") {
  // The fixtures' patches (7, 11, 12) are not multiples of 8; the bundled model's 8 is, so with
  // CUCLIP_GPU_GEMM=fused (the gpu_backend_parity_fused_gemm run) its f16/bf16 patch embedding
  // takes the implicit-im2col GEMM. Bars as in the fixture test above.
  cuclip_model* m = nullptr;
  REQUIRE(cuclip_model_load(CUCLIP_SOURCE_DIR "/models/shapes.cuclip", cuclip_model_default_params(), &m) == CUCLIP_OK);
  const int D = cuclip_model_embed_dim(m);
  std::vector<std::string> paths;
  for (const char* f : {"rgb_scene_121x91.jpg", "gray_rings_45x45.jpg", "wide_strip_200x30.jpg", "rgba_disc_50x70.png"})
    paths.push_back(data_path(std::string("reference/images/") + f));
  std::vector<const char*> pp;
  for (auto& p : paths) pp.push_back(p.c_str());
  const int n = (int)pp.size();
  std::vector<float> cpu((size_t)n * D);
  {
    Ctx c(m, CUCLIP_BACKEND_CPU, CUCLIP_DTYPE_AUTO, 8);
    REQUIRE(cuclip_encode_image_files(c.ctx, pp.data(), n, cpu.data(), nullptr) == CUCLIP_OK);
  }
  for (auto [dt, min_cos] : {std::pair{CUCLIP_DTYPE_F32, 0.99999}, std::pair{CUCLIP_DTYPE_F16, 0.999},
                             std::pair{CUCLIP_DTYPE_BF16, 0.999}}) {
    Ctx g(m, kGpuBackend, dt, 3);
    std::vector<float> gpu((size_t)n * D);
    REQUIRE(cuclip_encode_image_files(g.ctx, pp.data(), n, gpu.data(), nullptr) == CUCLIP_OK);
    require_cosine(gpu, cpu, D, min_cos, std::string("shapes dtype ") + std::to_string((int)dt));
  }
  cuclip_model_free(m);
}

TEST_CASE("gpu_contexts_share_weights_and_repeat_results_exactly", "[gpu_backend]") {
  cuclip_model* m = nullptr;
  REQUIRE(cuclip_model_load(converted_fixture("hf_legacy_quickgelu_f32").c_str(), cuclip_model_default_params(), &m) == CUCLIP_OK);
  const int D = cuclip_model_embed_dim(m);
  const char* texts[] = {"a photo of a cat", "a dog", ""};
  std::vector<float> a(3 * D), b(3 * D), again(3 * D);
  {
    Ctx c1(m, kGpuBackend, CUCLIP_DTYPE_F32, 4);
    Ctx c2(m, kGpuBackend, CUCLIP_DTYPE_F32, 2);  // the second context reuses the uploaded weights
    REQUIRE(cuclip_encode_texts(c1.ctx, texts, 3, a.data(), nullptr) == CUCLIP_OK);
    REQUIRE(cuclip_encode_texts(c2.ctx, texts, 3, b.data(), nullptr) == CUCLIP_OK);
    REQUIRE(cuclip_encode_texts(c1.ctx, texts, 3, again.data(), nullptr) == CUCLIP_OK);
  }
  // The weights outlive the contexts (they belong to the model): a new context still works.
  Ctx c3(m, kGpuBackend, CUCLIP_DTYPE_F32, 1);
  std::vector<float> c(3 * D);
  REQUIRE(cuclip_encode_texts(c3.ctx, texts, 3, c.data(), nullptr) == CUCLIP_OK);
  CHECK(a == again);  // same context, same batch: the same bits
#if defined(CUCLIP_EMU)
  // The emulator's kernels and GEMM are deterministic per row, whatever the batch split.
  CHECK(a == b);
  CHECK(c == a);
#else
  // cuBLAS may pick another algorithm per batch size: f32 rounding differences only.
  CUCLIP_REQUIRE_CLOSE(b, a, 1e-6, 1e-5);
  CUCLIP_REQUIRE_CLOSE(c, a, 1e-6, 1e-5);
#endif
  cuclip_model_free(m);
}

TEST_CASE("gpu_backend_refuses_a_device_that_does_not_exist", "[gpu_backend]") {
  cuclip_model* m = nullptr;
  REQUIRE(cuclip_model_load(converted_fixture("hf_legacy_quickgelu_f32").c_str(), cuclip_model_default_params(), &m) == CUCLIP_OK);
  cuclip_context_params p = cuclip_context_default_params();
  p.backend = kGpuBackend;
  p.device = 1000;
  cuclip_context* ctx = nullptr;
  CHECK(cuclip_context_create(m, p, &ctx) == CUCLIP_ERR_BACKEND_UNAVAILABLE);
  CHECK(ctx == nullptr);
  CHECK_THAT(cuclip_last_error(), Catch::Contains("device 1000"));
  cuclip_model_free(m);
}

TEST_CASE("gpu_backend_on_16_bit_model_files_matches_cpu_backend", "[gpu_backend]") {
  // Weights stored as f16/bf16: uploaded as they are when the compute dtype matches, widened or
  // converted otherwise. The CPU backend widens the same stored values, so the bars are as above.
  const std::string name = "openclip_openai_quickgelu_f32";
  for (cuclip::DType file_dt : {cuclip::DType::F16, cuclip::DType::BF16}) {
    cuclip_model* m = nullptr;
    REQUIRE(cuclip_model_load(converted_fixture(name, file_dt).c_str(), cuclip_model_default_params(), &m) == CUCLIP_OK);
    const int D = cuclip_model_embed_dim(m);
    Embeddings cpu;
    {
      Ctx c(m, CUCLIP_BACKEND_CPU, CUCLIP_DTYPE_AUTO, 8);
      cpu = encode_all(c.ctx, name, D);
    }
    for (cuclip_dtype dt : {CUCLIP_DTYPE_F32, CUCLIP_DTYPE_F16, CUCLIP_DTYPE_BF16}) {
      INFO("file " << cuclip::dtype_name(file_dt) << ", compute dtype " << (int)dt);
      Ctx g(m, kGpuBackend, dt, 8);
      const Embeddings gpu = encode_all(g.ctx, name, D);
      const double min_cos = dt == CUCLIP_DTYPE_F32 ? 0.99999 : 0.999;
      require_cosine(gpu.text, cpu.text, D, min_cos, "text");
      require_cosine(gpu.image, cpu.image, D, min_cos, "image");
    }
    cuclip_model_free(m);
  }
}

TEST_CASE("gpu_backend_graph_replays_repeat_the_eager_results", "[gpu_backend]") {
  // A shape's first forward runs eagerly, its second is captured into a CUDA graph and launched,
  // later ones replay the graph (engine/src/gpu_forward_graphs.hpp). Alternating shapes (two image
  // chunk sizes, two text batches with different packed lengths) must give the first run's results.
  const std::string name = "hf_modern_gelu_f16_sharded";
  cuclip_model* m = nullptr;
  REQUIRE(cuclip_model_load(converted_fixture(name).c_str(), cuclip_model_default_params(), &m) == CUCLIP_OK);
  const int D = cuclip_model_embed_dim(m);
  const std::vector<std::string> paths = fixture_image_paths(name);
  std::vector<const char*> pp = c_strings(paths);
  pp.resize(4);  // chunks of 3 and 1
  const char* texts_a[] = {"a photo of a cat", "", "two dogs playing in the snow"};
  const char* texts_b[] = {"a", "a much longer caption about a red bicycle leaning on a wall"};
  for (cuclip_dtype dt : {CUCLIP_DTYPE_F32, CUCLIP_DTYPE_F16}) {
    INFO("dtype " << (int)dt);
    Ctx g(m, kGpuBackend, dt, 3);
    std::vector<float> img0(4 * D), ta0(3 * D), tb0(2 * D), img(4 * D), ta(3 * D), tb(2 * D);
    REQUIRE(cuclip_encode_image_files(g.ctx, pp.data(), 4, img0.data(), nullptr) == CUCLIP_OK);
    REQUIRE(cuclip_encode_texts(g.ctx, texts_a, 3, ta0.data(), nullptr) == CUCLIP_OK);
    REQUIRE(cuclip_encode_texts(g.ctx, texts_b, 2, tb0.data(), nullptr) == CUCLIP_OK);
    for (int round = 0; round < 3; ++round) {
      INFO("round " << round);
      REQUIRE(cuclip_encode_image_files(g.ctx, pp.data(), 4, img.data(), nullptr) == CUCLIP_OK);
      REQUIRE(cuclip_encode_texts(g.ctx, texts_a, 3, ta.data(), nullptr) == CUCLIP_OK);
      REQUIRE(cuclip_encode_texts(g.ctx, texts_b, 2, tb.data(), nullptr) == CUCLIP_OK);
      // The same kernels with the same arguments: the same bits.
      CHECK(img == img0);
      CHECK(ta == ta0);
      CHECK(tb == tb0);
    }
  }
  cuclip_model_free(m);
}

#if defined(CUCLIP_EMU)
TEST_CASE("gpu_out_of_memory_is_a_status_and_leaves_the_model_usable", "[gpu_backend]") {
  // A context whose workspace does not fit the device fails with CUCLIP_ERR_OUT_OF_MEMORY naming
  // the batch; the model (and its weights already on the device) stays usable for a context that
  // fits, whose results are unchanged. The emulated device is shrunk to 48 MB for the test
  // (CUCLIP_EMU_DEVICE_MEMORY; the fixture's weights take under 1 MB, a batch of 65536 needs GBs).
  cuclip_model* m = nullptr;
  REQUIRE(cuclip_model_load(converted_fixture("hf_legacy_quickgelu_f32").c_str(), cuclip_model_default_params(), &m) == CUCLIP_OK);
  const int D = cuclip_model_embed_dim(m);
  std::vector<float> before;
  {
    Ctx small(m, kGpuBackend, CUCLIP_DTYPE_F32, 4);
    before = encode_all(small.ctx, "hf_legacy_quickgelu_f32", D).image;
  }
  REQUIRE(setenv("CUCLIP_EMU_DEVICE_MEMORY", "50331648", 1) == 0);
  cuclip_context_params p = cuclip_context_default_params();
  p.backend = kGpuBackend;
  p.dtype = CUCLIP_DTYPE_F32;
  p.max_batch = 65536;
  cuclip_context* big = nullptr;
  const cuclip_status s = cuclip_context_create(m, p, &big);
  const std::string msg = cuclip_last_error();
  INFO(msg);
  CHECK(s == CUCLIP_ERR_OUT_OF_MEMORY);
  CHECK(big == nullptr);
  CHECK(msg.find("65536") != std::string::npos);
  {
    Ctx small(m, kGpuBackend, CUCLIP_DTYPE_F32, 4);  // fits in what the failed attempt gave back
    CHECK(encode_all(small.ctx, "hf_legacy_quickgelu_f32", D).image == before);
  }
  unsetenv("CUCLIP_EMU_DEVICE_MEMORY");
  cuclip_model_free(m);
}
#endif

TEST_CASE("gpu_zero_shot_head_matches_host_classification", "[gpu_backend]") {
  // A classifier on a GPU context classifies images on the device (normalize, f32 GEMM with the
  // class rows, softmax; only probabilities come back). It must give what the CPU context's host
  // classification gives, keep a failed image's row NaN without touching the others, and stay
  // right when embedding and classifying batches of the same shape alternate (recorded forwards
  // must not be mixed up: the emulator records and replays CUDA graphs too).
  cuclip_model* m = nullptr;
  const std::string name = "hf_legacy_quickgelu_f32";
  REQUIRE(cuclip_model_load(converted_fixture(name).c_str(), cuclip_model_default_params(), &m) == CUCLIP_OK);
  std::vector<std::string> paths = fixture_image_paths(name);
  paths.insert(paths.begin() + 1, data_path("no_such_image.png"));
  const std::vector<const char*> pp = c_strings(paths);
  const int n = (int)pp.size(), D = cuclip_model_embed_dim(m);
  const char* labels[] = {"a cat", "a dog", "a red car", "a bowl of soup", "a mountain"};
  const char* tmpl[] = {"a photo of {}.", "{}"};
  auto classify = [&](cuclip_backend be, int rounds) {
    Ctx c(m, be, CUCLIP_DTYPE_F32, n);
    cuclip_classifier* clf = nullptr;
    REQUIRE(cuclip_classifier_create(c.ctx, labels, 5, tmpl, 2, &clf) == CUCLIP_OK);
    std::vector<float> probs((size_t)n * 5), emb((size_t)n * D);
    std::vector<cuclip_status> st((size_t)n);
    for (int r = 0; r < rounds; ++r) {
      CHECK(cuclip_classify_image_files(clf, pp.data(), n, probs.data(), st.data()) == CUCLIP_ERR_IO);
      CHECK(cuclip_encode_image_files(c.ctx, pp.data(), n, emb.data(), nullptr) == CUCLIP_ERR_IO);
    }
    for (int i = 0; i < n; ++i) CHECK((st[(size_t)i] == CUCLIP_OK) == (i != 1));
    cuclip_classifier_free(clf);
    return std::pair{probs, emb};
  };
  const auto [cpu_probs, cpu_emb] = classify(CUCLIP_BACKEND_CPU, 1);
  const auto [gpu_probs, gpu_emb] = classify(kGpuBackend, 3);  // rounds 2 and 3 replay recorded forwards
  for (int i = 0; i < n; ++i) {
    INFO("image " << i);
    double sum = 0;
    for (int k = 0; k < 5; ++k) {
      const float g = gpu_probs[(size_t)i * 5 + k], c = cpu_probs[(size_t)i * 5 + k];
      if (i == 1) {
        CHECK(std::isnan(g));
        continue;
      }
      sum += g;
      // f32 on both sides: embeddings agree to cosine 0.99999 (summation order), which
      // exp(logit_scale) = 100 turns into logit differences of ~1e-3; probabilities move less.
      CHECK(std::fabs(g - c) <= 2e-3);
    }
    if (i != 1) CHECK(std::fabs(sum - 1.0) <= 1e-5);  // a softmax row, in f32
  }
  require_cosine(std::vector<float>(gpu_emb.begin(), gpu_emb.begin() + D), std::vector<float>(cpu_emb.begin(), cpu_emb.begin() + D), D,
                 0.99999, "embedding after classification");
  cuclip_model_free(m);
}

TEST_CASE("gpu_zero_shot_top_k_is_the_top_k_of_its_probabilities", "[gpu_backend]") {
  // cuclip_classify_image_files_top_k on a GPU context selects on the device (top_k_rows_kernel):
  // it must return exactly what cuclip_top_k picks from the same context's full probabilities,
  // for k from 1 to all classes, with a failed image's row -1 / NaN, while calls with different k
  // and full-probability calls alternate over rounds that replay recorded forwards.
  cuclip_model* m = nullptr;
  const std::string name = "openclip_openai_quickgelu_f32";
  REQUIRE(cuclip_model_load(converted_fixture(name).c_str(), cuclip_model_default_params(), &m) == CUCLIP_OK);
  std::vector<std::string> paths = fixture_image_paths(name);
  paths.insert(paths.begin() + 2, data_path("no_such_image.png"));
  const std::vector<const char*> pp = c_strings(paths);
  const int n = (int)pp.size();
  const char* labels[] = {"a cat", "a dog", "a red car", "a bowl of soup", "a mountain", "a tree", "a boat"};
  const int K = 7;
  Ctx c(m, kGpuBackend, CUCLIP_DTYPE_F32, 4);
  cuclip_classifier* clf = nullptr;
  REQUIRE(cuclip_classifier_create(c.ctx, labels, K, nullptr, 0, &clf) == CUCLIP_OK);
  for (int round = 0; round < 3; ++round)
    for (int k : {1, 3, K}) {
      INFO("round " << round << " k " << k);
      std::vector<float> probs((size_t)n * K), top_p((size_t)n * k);
      std::vector<int> top_i((size_t)n * k);
      std::vector<cuclip_status> st((size_t)n), top_st((size_t)n);
      CHECK(cuclip_classify_image_files(clf, pp.data(), n, probs.data(), st.data()) == CUCLIP_ERR_IO);
      CHECK(cuclip_classify_image_files_top_k(clf, pp.data(), n, k, top_i.data(), top_p.data(), top_st.data()) == CUCLIP_ERR_IO);
      CHECK(top_st == st);
      for (int i = 0; i < n; ++i) {
        INFO("image " << i);
        if (st[(size_t)i] != CUCLIP_OK) {
          for (int r = 0; r < k; ++r) CHECK((top_i[(size_t)i * k + r] == -1 && std::isnan(top_p[(size_t)i * k + r])));
          continue;
        }
        std::vector<int> want_i((size_t)k);
        std::vector<float> want_p((size_t)k);
        REQUIRE(cuclip_top_k(probs.data() + (size_t)i * K, K, k, want_i.data(), want_p.data()) == CUCLIP_OK);
        CHECK(std::vector<int>(top_i.begin() + (size_t)i * k, top_i.begin() + (size_t)(i + 1) * k) == want_i);
        CHECK(std::vector<float>(top_p.begin() + (size_t)i * k, top_p.begin() + (size_t)(i + 1) * k) == want_p);
      }
    }
  cuclip_classifier_free(clf);
  cuclip_model_free(m);
}

TEST_CASE("gpu_batch_with_failed_items_keeps_the_good_rows_exact", "[gpu_backend]") {
  // Images resized on the device are laid out without the failed ones; with CUCLIP_GPU_RESIZE=0
  // they are preprocessed straight into the upload buffer, where a failed first item shifts the
  // good ones inside it and a failed middle item makes them gather. Either way every good row must
  // be what the image gives alone, and the bad rows NaN.
  cuclip_model* m = nullptr;
  const std::string name = "hf_legacy_quickgelu_f32";
  REQUIRE(cuclip_model_load(converted_fixture(name).c_str(), cuclip_model_default_params(), &m) == CUCLIP_OK);
  const int D = cuclip_model_embed_dim(m);
  const std::string a = data_path("reference/images/rgb_scene_121x91.jpg"), b = data_path("reference/images/tiny_rgb_20x13.png"),
                    bad = data_path("no_such_image.png");
  for (const char* resize : {"1", "0"}) {
    INFO("CUCLIP_GPU_RESIZE=" << resize);
    REQUIRE(setenv("CUCLIP_GPU_RESIZE", resize, 1) == 0);
    Ctx c(m, kGpuBackend, CUCLIP_DTYPE_F32, 4);
    unsetenv("CUCLIP_GPU_RESIZE");
    auto encode = [&](std::vector<std::string> paths) {
      std::vector<const char*> pp;
      for (auto& p : paths) pp.push_back(p.c_str());
      std::vector<float> out(paths.size() * D);
      (void)cuclip_encode_image_files(c.ctx, pp.data(), (int)pp.size(), out.data(), nullptr);
      return out;
    };
    const std::vector<float> ea = encode({a}), eb = encode({b});
    for (const auto& batch : {std::vector<std::string>{bad, a, b}, std::vector<std::string>{a, bad, b}, std::vector<std::string>{a, b, bad}}) {
      const std::vector<float> got = encode(batch);
      for (size_t i = 0; i < batch.size(); ++i) {
        INFO("item " << i << ": " << batch[i]);
        const std::vector<float> row(got.begin() + i * D, got.begin() + (i + 1) * D);
        if (batch[i] == bad) {
          CHECK(std::isnan(row[0]));
          continue;
        }
        const std::vector<float>& alone = batch[i] == a ? ea : eb;
  #if defined(CUCLIP_EMU)
        CHECK(row == alone);  // the emulator's GEMM does not depend on the batch size: bit for bit
  #else
        // On a GPU cuBLASLt may pick another algorithm for another M: summation order only.
        CHECK(cosine(row.data(), alone.data(), (size_t)D) >= 0.99999);
  #endif
      }
    }
  }
  cuclip_model_free(m);
}
