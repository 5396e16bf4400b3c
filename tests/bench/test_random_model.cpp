// The standard shapes `cuclip bench` generates: their architecture against the originals (parameter
// and FLOP counts measured with open_clip / PyTorch, not computed by us), and the random-weight files:
// valid, loadable, deterministic in the seed, and producing finite unit embeddings.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "common/testing.hpp"
#include "cuclip.h"
#include "model_file.hpp"
#include "random_model.hpp"

namespace {

std::string temp_path(const std::string& name) {
  const char* t = std::getenv("TMPDIR");
  return std::string(t && *t ? t : "/tmp") + "/cuclip-test-" + std::to_string(getpid()) + "-" + name;
}

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

}  // namespace

TEST_CASE("standard shapes have open_clip's parameter counts", "[bench]") {
  // sum(p.numel() for p in open_clip.create_model(name).parameters()) minus logit_scale,
  // open_clip_torch 3.3.0 (ViT-*-quickgelu configs for the OpenAI shapes; same counts).
  const std::pair<const char*, int64_t> expected[] = {{"ViT-B/32", 151277312},
                                                      {"ViT-B/16", 149620736},
                                                      {"ViT-L/14", 427616512},
                                                      {"ViT-L/14@336", 427944192},
                                                      {"ViT-H/14", 986109440}};
  for (auto [name, count] : expected) {
    cuclip::ModelConfig c;
    INFO(name);
    REQUIRE(cuclip::standard_shape(name, &c).ok());
    CHECK(cuclip::parameter_count(c) == count);
  }
}

TEST_CASE("standard shapes match the original architectures", "[bench]") {
  cuclip::ModelConfig h, b32, l336;
  REQUIRE(cuclip::standard_shape("ViT-H/14", &h).ok());
  REQUIRE(cuclip::standard_shape("ViT-B-32", &b32).ok());  // open_clip spelling
  REQUIRE(cuclip::standard_shape("ViT-L/14@336", &l336).ok());
  CHECK(h.vision.head_dim == 80);  // LAION ViT-H-14: 1280 wide, 16 heads
  CHECK(h.vision.heads == 16);
  CHECK(h.text.head_dim == 64);
  CHECK(h.vision.act == cuclip::Activation::GeluErf);
  CHECK(b32.vision.act == cuclip::Activation::QuickGelu);  // OpenAI checkpoints
  CHECK(b32.text.act == cuclip::Activation::QuickGelu);
  CHECK(l336.vision.tokens() == 577);
  for (const auto* c : {&h, &b32, &l336}) {
    CHECK(c->text.context_length == 77);
    CHECK(c->text.vocab_size == 49408);
    CHECK(c->text.eot_id == 49407);
  }
}

TEST_CASE("forward FLOP counts equal PyTorch's FlopCounterMode on open_clip", "[bench]") {
  // torch.utils.flop_counter.FlopCounterMode around open_clip 3.3.0 encode_image (batch 1, MHA fast
  // path off) and encode_text (77 tokens).
  const struct {
    const char* name;
    double image, text;
  } expected[] = {{"ViT-B/32", 8817623040.0, 5959540736.0},
                  {"ViT-L/14@336", 381919789056.0, 13299683328.0},
                  {"ViT-H/14", 334590279680.0, 47091384320.0}};
  for (const auto& e : expected) {
    cuclip::ModelConfig c;
    INFO(e.name);
    REQUIRE(cuclip::standard_shape(e.name, &c).ok());
    CHECK(cuclip::image_forward_flops(c) == e.image);
    CHECK(cuclip::text_forward_flops(c, 77) == e.text);
  }
}

TEST_CASE("an unknown shape name is refused with the known names", "[bench]") {
  cuclip::ModelConfig c;
  const cuclip::Status s = cuclip::standard_shape("ViT-Q/7", &c);
  CHECK(s.code == CUCLIP_ERR_INVALID_ARGUMENT);
  CHECK(s.message.find("ViT-Q/7") != std::string::npos);
  CHECK(s.message.find("ViT-H/14") != std::string::npos);
}

TEST_CASE("a random tiny model loads, verifies and embeds to finite unit vectors", "[bench]") {
  cuclip::ModelConfig c;
  REQUIRE(cuclip::standard_shape("tiny", &c).ok());
  const std::string path = temp_path("tiny-f16.cuclip");
  cuclip::RandomModelOptions opts;
  opts.dtype = cuclip::DType::F16;
  const cuclip::Status ws = cuclip::write_random_model(c, path, opts);
  INFO(ws.message);
  REQUIRE(ws.ok());

  cuclip_model* m = nullptr;
  cuclip_model_params mp = cuclip_model_default_params();
  mp.verify_checksums = 1;
  REQUIRE(cuclip_model_load(path.c_str(), mp, &m) == CUCLIP_OK);
  CHECK(cuclip_model_verify(m) == CUCLIP_OK);
  cuclip_context_params cp = cuclip_context_default_params();
  cp.backend = CUCLIP_BACKEND_CPU;
  cuclip_context* ctx = nullptr;
  REQUIRE(cuclip_context_create(m, cp, &ctx) == CUCLIP_OK);

  const int D = cuclip_model_embed_dim(m), S = cuclip_model_image_size(m);
  REQUIRE(D == c.embed_dim);
  const char* texts[2] = {"a photo of a cat", "a diagram of a steam engine"};
  std::vector<float> t(2 * D, -7.0f), img(D, -7.0f);  // poisoned
  REQUIRE(cuclip_encode_texts(ctx, texts, 2, t.data(), nullptr) == CUCLIP_OK);
  std::vector<uint8_t> pixels((size_t)S * S * 3);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = (uint8_t)(i * 7 + i / 97);
  const cuclip_image_view view{pixels.data(), S, S, 0, CUCLIP_PIXELS_RGB8};
  REQUIRE(cuclip_encode_image_pixels(ctx, &view, 1, img.data(), nullptr) == CUCLIP_OK);
  for (const float* e : {t.data(), t.data() + D, img.data()}) {
    double n2 = 0;
    for (int i = 0; i < D; ++i) {
      REQUIRE(std::isfinite(e[i]));
      n2 += (double)e[i] * e[i];
    }
    CHECK(std::sqrt(n2) == Approx(1.0).margin(1e-5));  // L2-normalized in f32
  }
  // Random weights still separate inputs: two different texts do not collapse onto one vector.
  CHECK(cuclip_test::cosine(t.data(), t.data() + D, D) < 0.9999);
  cuclip_context_free(ctx);
  cuclip_model_free(m);
  std::remove(path.c_str());
}

TEST_CASE("random model files are deterministic in the seed", "[bench]") {
  cuclip::ModelConfig c;
  REQUIRE(cuclip::standard_shape("tiny", &c).ok());
  const std::string a = temp_path("a.cuclip"), b = temp_path("b.cuclip"), s2 = temp_path("s2.cuclip");
  cuclip::RandomModelOptions opts;
  REQUIRE(cuclip::write_random_model(c, a, opts).ok());
  REQUIRE(cuclip::write_random_model(c, b, opts).ok());
  opts.seed = 2;
  REQUIRE(cuclip::write_random_model(c, s2, opts).ok());
  const std::string fa = read_all(a), fb = read_all(b);
  CHECK(fa.size() > 1000000);  // the real 49408-token vocab is in there
  CHECK(fa == fb);
  // Another seed: other weights (compared tensor by tensor, not just the header's seed field).
  std::unique_ptr<cuclip::ModelFile> ma, m2;
  REQUIRE(cuclip::ModelFile::open(a, {}, &ma).ok());
  REQUIRE(cuclip::ModelFile::open(s2, {}, &m2).ok());
  for (const char* name : {"vision.blocks.0.attn.qkv.weight", "text.token_embed", "text.blocks.1.ln2.bias"}) {
    const cuclip::TensorInfo *x = ma->find(name), *y = m2->find(name);
    REQUIRE(x);
    REQUIRE(y);
    INFO(name);
    CHECK(std::memcmp(x->data, y->data, x->bytes) != 0);
  }
  for (const auto& p : {a, b, s2}) std::remove(p.c_str());
}
