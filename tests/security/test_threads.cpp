// Threads sharing one model: N threads, one cuclip_model, each thread with its own context (CPU
// backend, n_threads = 1), encode texts and images in parallel, including the model's lazily
// built shared state (first use happens inside the threads). Every thread's results must equal the
// sequential ones bit for bit, and each thread's cuclip_last_error is its own. tests/sanitize runs
// this binary again under ThreadSanitizer; n_threads = 1 keeps OpenMP (libgomp is not
// TSan-instrumented) out of the picture, so every report is about cuclip's own synchronization.
#include <atomic>
#include <cstring>
#include <thread>

#include "common/testing.hpp"
#include "cuclip.h"
#include "engine/fixture_models.hpp"

using cuclip_test::data_path;

namespace {

const char* const kTexts[] = {"a photo of a cat", "a diagram of a red square", "", "caf\xc3\xa9 \xf0\x9f\x98\x80 na\xc3\xafve",
                              "&amp; &lt;b&gt; html", "a much longer caption about a dog running on the beach at sunset"};
constexpr int kNumTexts = sizeof(kTexts) / sizeof(kTexts[0]);

std::vector<std::string> image_paths() {
  return {data_path("images/inputs/astro_q90_420.jpg"), data_path("images/inputs/chelsea_p_trns.png"),
          data_path("images/inputs/camera_gray.gif"), data_path("images/inputs/astro_lossy.webp")};
}

struct Results {
  std::vector<float> text, image;
  std::vector<int32_t> ids;
  bool ok = true;
  std::string error;
};

cuclip_context* make_context(cuclip_model* m) {
  cuclip_context_params p = cuclip_context_default_params();
  p.backend = CUCLIP_BACKEND_CPU;
  p.n_threads = 1;
  p.max_batch = 4;  // several chunks per call
  cuclip_context* ctx = nullptr;
  return cuclip_context_create(m, p, &ctx) == CUCLIP_OK ? ctx : nullptr;
}

Results encode_all(cuclip_model* m) {
  Results r;
  cuclip_context* ctx = make_context(m);
  if (!ctx) return {{}, {}, {}, false, std::string("context: ") + cuclip_last_error()};
  const int D = cuclip_model_embed_dim(m), L = cuclip_model_context_length(m);
  r.text.resize((size_t)kNumTexts * D);
  if (cuclip_encode_texts(ctx, kTexts, kNumTexts, r.text.data(), nullptr) != CUCLIP_OK) r = {{}, {}, {}, false, cuclip_last_error()};
  const auto paths = image_paths();
  std::vector<const char*> ptrs;
  for (const auto& p : paths) ptrs.push_back(p.c_str());
  r.image.resize(ptrs.size() * (size_t)D);
  if (r.ok && cuclip_encode_image_files(ctx, ptrs.data(), (int)ptrs.size(), r.image.data(), nullptr) != CUCLIP_OK)
    r = {{}, {}, {}, false, cuclip_last_error()};
  for (int i = 0; r.ok && i < kNumTexts; ++i) {
    std::vector<int32_t> ids((size_t)L);
    int n = 0;
    if (cuclip_tokenize(m, kTexts[i], 0, ids.data(), L, &n) != CUCLIP_OK) r = {{}, {}, {}, false, cuclip_last_error()};
    r.ids.insert(r.ids.end(), ids.begin(), ids.end());
  }
  cuclip_context_free(ctx);
  return r;
}

}  // namespace

TEST_CASE("threads_sharing_one_model_with_own_contexts_match_sequential_results_exactly") {
  for (const char* fixture : {"openclip_openai_quickgelu_f32", "hf_modern_gelu_f16_sharded"}) {
    INFO(fixture);
    const std::string path = cuclip_test::converted_fixture(fixture, cuclip::DType::F16);
    cuclip_model* m = nullptr;
    REQUIRE(cuclip_model_load(path.c_str(), cuclip_model_default_params(), &m) == CUCLIP_OK);
    constexpr int kThreads = 4, kRounds = 2;
    std::vector<std::vector<Results>> got(kThreads);
    std::vector<std::string> own_error(kThreads);
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        ready.fetch_add(1);
        while (ready.load() < kThreads) std::this_thread::yield();  // start together: first use races
        for (int round = 0; round < kRounds; ++round) got[t].push_back(encode_all(m));
        // cuclip_last_error is per thread: this thread's failure, not another's.
        int32_t ids[128];
        int n = 0;
        const std::string bad = "bad utf8 " + std::to_string(t) + " \xff";
        if (cuclip_tokenize(m, bad.c_str(), 0, ids, 128, &n) != CUCLIP_OK) own_error[t] = cuclip_last_error();
      });
    for (auto& th : threads) th.join();
    const Results seq = encode_all(m);  // after the threads: they did the model's first use
    INFO(seq.error);
    REQUIRE(seq.ok);
    for (int t = 0; t < kThreads; ++t)
      for (const Results& r : got[t]) {
        INFO("thread " << t << ": " << r.error);
        REQUIRE(r.ok);
        CHECK(r.ids == seq.ids);
        REQUIRE(r.text.size() == seq.text.size());
        REQUIRE(r.image.size() == seq.image.size());
        CHECK(std::memcmp(r.text.data(), seq.text.data(), seq.text.size() * sizeof(float)) == 0);
        CHECK(std::memcmp(r.image.data(), seq.image.data(), seq.image.size() * sizeof(float)) == 0);
      }
    for (int t = 0; t < kThreads; ++t) {
      INFO("thread " << t << " error: " << own_error[t]);
      CHECK_FALSE(own_error[t].empty());
      CHECK(own_error[t].find("UTF-8") != std::string::npos);
    }
    cuclip_model_free(m);
  }
}
