// End-to-end parity with the Python references (tests/reference/gen_models.py): token ids,
// preprocessed pixels and embeddings of every fixture architecture, through the C API.
#include <cmath>

#include "base/npy.hpp"
#include "common/testing.hpp"
#include "cuclip.h"
#include "fixture_models.hpp"

using namespace cuclip_test;

namespace {

struct Loaded {
  cuclip_model* m = nullptr;
  cuclip_context* ctx = nullptr;
  explicit Loaded(const std::string& path) {
    REQUIRE(cuclip_model_load(path.c_str(), cuclip_model_default_params(), &m) == CUCLIP_OK);
    cuclip_context_params p = cuclip_context_default_params();
    p.backend = CUCLIP_BACKEND_CPU;
    p.max_batch = 4;  // smaller than the fixture batches, so chunking is exercised
    REQUIRE(cuclip_context_create(m, p, &ctx) == CUCLIP_OK);
  }
  ~Loaded() {
    cuclip_context_free(ctx);
    cuclip_model_free(m);
  }
};

std::vector<float> npy_f32(const std::string& rel) {
  cuclip::NpyArray a;
  cuclip::Status s = cuclip::npy_read(data_path(rel), &a);
  INFO(s.message);
  REQUIRE(s.ok());
  return a.as_f32();
}

// The parity bar: per embedding cosine >= 0.99999 and max abs error <= 1e-4. Our fp32
// forward differs from PyTorch's only in summation order (and erf/exp implementations), which
// moves unit-norm embeddings by ~1e-7; both bounds leave two orders of magnitude of margin.
void require_embeddings_match(const std::vector<float>& got, const std::vector<float>& ref, int D, const std::string& what) {
  REQUIRE(got.size() == ref.size());
  for (size_t r = 0; r < got.size() / D; ++r) {
    double cos = cosine(got.data() + r * D, ref.data() + r * D, (size_t)D);
    double max_abs = 0;
    for (int d = 0; d < D; ++d) max_abs = std::max(max_abs, (double)std::fabs(got[r * D + d] - ref[r * D + d]));
    INFO(what << " row " << r << ": cosine " << cos << ", max abs error " << max_abs);
    CHECK(cos >= 0.99999);
    CHECK(max_abs <= 1e-4);
  }
}

}  // namespace

TEST_CASE("every_fixture_matches_its_reference_end_to_end") {
  for (const std::string& name : kFixtures) {
    SECTION(name) {
      const auto meta = read_json_file(data_path("reference/" + name + "/meta.json"));
      const auto texts = read_json_file(data_path("reference/" + name + "/texts.json"));
      Loaded L(converted_fixture(name));
      const int D = cuclip_model_embed_dim(L.m), S = cuclip_model_image_size(L.m), T = cuclip_model_context_length(L.m);
      REQUIRE(D == meta["embed_dim"].get<int>());

      // Token ids: identical to the ecosystem's own tokenizer.
      cuclip::NpyArray ids_ref;
      REQUIRE(cuclip::npy_read(data_path("reference/" + name + "/token_ids.npy"), &ids_ref).ok());
      const auto ref_ids = ids_ref.as_i64();
      std::vector<std::string> tv;
      for (const auto& t : texts) tv.push_back(t.get<std::string>());
      for (size_t i = 0; i < tv.size(); ++i) {
        std::vector<int32_t> ids((size_t)T);
        int n = 0;
        REQUIRE(cuclip_tokenize(L.m, tv[i].c_str(), 0, ids.data(), T, &n) == CUCLIP_OK);
        REQUIRE(n == T);
        std::vector<int64_t> got(ids.begin(), ids.end()), want(ref_ids.begin() + (ptrdiff_t)i * T, ref_ids.begin() + (ptrdiff_t)(i + 1) * T);
        INFO("text " << i << ": " << tv[i]);
        CHECK(got == want);
      }

      // Text embeddings from the strings (tokenizer included).
      std::vector<const char*> tp;
      for (auto& t : tv) tp.push_back(t.c_str());
      std::vector<float> te(tv.size() * D);
      std::vector<cuclip_status> st(tv.size());
      REQUIRE(cuclip_encode_texts(L.ctx, tp.data(), (int)tp.size(), te.data(), st.data()) == CUCLIP_OK);
      require_embeddings_match(te, npy_f32("reference/" + name + "/text_emb.npy"), D, name + " text");

      // Pixels: the preprocessing preset reproduces the reference tensor.
      std::vector<std::string> paths;
      for (const auto& im : meta["images"]) paths.push_back(data_path(meta["images_dir"].get<std::string>() + "/" + im.get<std::string>()));
      const auto ref_px = npy_f32("reference/" + name + "/pixels.npy");
      const size_t px = (size_t)3 * S * S;
      for (size_t i = 0; i < paths.size(); ++i) {
        std::vector<float> got(px);
        REQUIRE(cuclip_preprocess_image_file(L.m, paths[i].c_str(), got.data()) == CUCLIP_OK);
        std::vector<float> want(ref_px.begin() + (ptrdiff_t)(i * px), ref_px.begin() + (ptrdiff_t)((i + 1) * px));
        INFO("image " << paths[i]);
        // Identical uint8 pixels give float tensors equal up to float rounding of (x/255 - mean)/std.
        CUCLIP_REQUIRE_CLOSE(got, want, 1e-5, 1e-6);
      }

      // Image embeddings from the files (decode and preprocessing included).
      std::vector<const char*> pp;
      for (auto& p : paths) pp.push_back(p.c_str());
      std::vector<float> ie(paths.size() * D);
      std::vector<cuclip_status> ist(paths.size());
      REQUIRE(cuclip_encode_image_files(L.ctx, pp.data(), (int)pp.size(), ie.data(), ist.data()) == CUCLIP_OK);
      require_embeddings_match(ie, npy_f32("reference/" + name + "/image_emb.npy"), D, name + " image");

      // Logits: exp(logit_scale) * cos (+ bias); logit_scale up to 50 amplifies the 1e-4 embedding bound.
      std::vector<float> lg(paths.size() * tv.size());
      REQUIRE(cuclip_similarity(L.m, ie.data(), (int)paths.size(), te.data(), (int)tv.size(), lg.data()) == CUCLIP_OK);
      CUCLIP_REQUIRE_CLOSE(lg, npy_f32("reference/" + name + "/logits.npy"), 1e-3, 1e-4);
    }
  }
}

TEST_CASE("f16_and_bf16_files_stay_close_to_the_f32_reference") {
  // Rounding the weights to 16 bits moves the embeddings; the CUDA issue's bar for 16-bit
  // compute is cosine >= 0.999, which the storage rounding alone must clear with margin.
  for (cuclip::DType dt : {cuclip::DType::F16, cuclip::DType::BF16}) {
    const std::string name = "openclip_openai_quickgelu_f32";
    Loaded L(converted_fixture(name, dt));
    const auto texts = read_json_file(data_path("reference/" + name + "/texts.json"));
    std::vector<std::string> tv;
    for (const auto& t : texts) tv.push_back(t.get<std::string>());
    std::vector<const char*> tp;
    for (auto& t : tv) tp.push_back(t.c_str());
    const int D = cuclip_model_embed_dim(L.m);
    std::vector<float> te(tv.size() * D);
    REQUIRE(cuclip_encode_texts(L.ctx, tp.data(), (int)tp.size(), te.data(), nullptr) == CUCLIP_OK);
    const auto ref = npy_f32("reference/" + name + "/text_emb.npy");
    for (size_t r = 0; r < tv.size(); ++r) {
      INFO(cuclip::dtype_name(dt) << " row " << r);
      CHECK(cosine(te.data() + r * D, ref.data() + r * D, (size_t)D) >= 0.999);
    }
  }
}
