// Hardening limits: huge texts and words tokenize in bounded time and memory; image headers that
// claim huge sizes are refused before anything is allocated; the caps of cuclip_context_params
// (max_text_bytes, max_image_pixels) and cuclip_model_params (max_header_bytes, max_tensor_count)
// are honoured with CUCLIP_ERR_LIMIT_EXCEEDED, and a refused item never changes the good ones.
#include <cmath>
#include <chrono>
#include <cstring>

#include "base/file.hpp"
#include "common/testing.hpp"
#include "cuclip.h"
#include "cuclip/image.hpp"
#include "cuclip/tokenizer.hpp"
#include "engine/fixture_models.hpp"
#include "hardening_util.hpp"

using namespace cuclip;
using namespace cuclip_security;
using cuclip_test::data_path;

namespace {

std::unique_ptr<tok::Tokenizer> clip_tokenizer(tok::CleanMode mode) {
  std::string bpe;
  tok::TokenizerSpec spec;
  REQUIRE(tok::load_bundled_clip_bpe(std::string(CUCLIP_SOURCE_DIR) + "/tokenizer/data/bpe_simple_vocab_16e6.txt.gz", &bpe).ok());
  REQUIRE(tok::spec_from_clip_bpe(bpe, &spec).ok());
  spec.clean = mode;
  std::unique_ptr<tok::Tokenizer> t;
  REQUIRE(tok::Tokenizer::create(spec, &t).ok());
  return t;
}

std::string repeat_to(const std::string& unit, size_t bytes) {
  std::string s;
  while (s.size() + unit.size() <= bytes) s += unit;
  return s;
}

struct Model {
  cuclip_model* m = nullptr;
  Model() {
    const std::string path = cuclip_test::converted_fixture("openclip_openai_quickgelu_f32", DType::F32);
    REQUIRE(cuclip_model_load(path.c_str(), cuclip_model_default_params(), &m) == CUCLIP_OK);
  }
  ~Model() { cuclip_model_free(m); }
};

cuclip_context* cpu_context(cuclip_model* m, uint64_t max_text_bytes, uint64_t max_image_pixels) {
  cuclip_context_params p = cuclip_context_default_params();
  p.backend = CUCLIP_BACKEND_CPU;
  p.max_text_bytes = max_text_bytes;
  p.max_image_pixels = max_image_pixels;
  cuclip_context* ctx = nullptr;
  REQUIRE(cuclip_context_create(m, p, &ctx) == CUCLIP_OK);
  return ctx;
}

bool all_nan(const float* v, int n) {
  for (int i = 0; i < n; ++i)
    if (!std::isnan(v[i])) return false;
  return true;
}

}  // namespace

TEST_CASE("one_megabyte_texts_and_single_words_tokenize_in_bounded_time_and_memory") {
  const std::vector<std::pair<const char*, std::string>> inputs = {
      {"1 MB of caption text", repeat_to("a photo of a large orange cat on the sofa, ", 1 << 20)},
      {"1 MB single word of one letter", std::string(1 << 20, 'a')},
      {"1 MB single word of varied letters", [] {
         std::string s(1 << 20, 'a');
         uint32_t x = 1;
         for (char& ch : s) ch = (char)('a' + ((x = x * 1664525u + 1013904223u) >> 27) % 26);
         return s;
       }()},
      {"1 MB of CJK without spaces", repeat_to("\xe7\x8c\xab\xe3\x81\xae\xe5\x86\x99\xe7\x9c\x9f", 1 << 20)},
      {"1 MB of HTML entities", repeat_to("&amp;&lt;b&gt;", 1 << 20)},
      {"1 MB of combining marks on one letter", std::string("e").append(repeat_to("\xcc\x81", (1 << 20) - 1))},
  };
  for (tok::CleanMode mode : {tok::CleanMode::OpenClip, tok::CleanMode::HfFast}) {
    const auto t = clip_tokenizer(mode);
    for (const auto& [what, text] : inputs) {
      INFO(what << (mode == tok::CleanMode::OpenClip ? " (open_clip cleaning)" : " (HF cleaning)"));
      int32_t ids[77];
      const Cost c = measure_in_child([&] { return (int)t->encode_padded(text, 77, ids).code; });
      INFO("took " << c.seconds << " s, peak memory +" << c.peak_growth_mb << " MB");
      REQUIRE_FALSE(c.crashed);
      CHECK(c.result == CUCLIP_OK);
      // The bound; a caption-sized prefix is all that is tokenized (docs/tokenizer.md).
      CHECK(c.seconds < 2.0 * kTimeScale);
      // The text itself is 1 MB; the work on it must not be a multiple of it (32 MB leaves room for
      // the UTF-32 copy of a prefix and the allocator's slack, not for per-byte tables).
      if (!kSanitized) CHECK(c.peak_growth_mb < 32);
    }
  }
}

TEST_CASE("one_megabyte_text_through_the_c_api_is_encoded_and_one_byte_more_is_limit_exceeded") {
  Model model;
  cuclip_context* ctx = cpu_context(model.m, 1 << 20, 89478485);
  const int D = cuclip_model_embed_dim(model.m);
  const std::string at_cap = repeat_to("a photo of a cat ", 1 << 20), over = at_cap + std::string((1 << 20) - at_cap.size() + 1, 'x');
  REQUIRE(over.size() == (1u << 20) + 1);
  const char* texts[2] = {at_cap.c_str(), over.c_str()};
  std::vector<float> out(2 * (size_t)D);
  cuclip_status st[2];
  const auto t0 = std::chrono::steady_clock::now();
  const cuclip_status all = cuclip_encode_texts(ctx, texts, 2, out.data(), st);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(all == CUCLIP_ERR_LIMIT_EXCEEDED);
  CHECK(st[0] == CUCLIP_OK);
  CHECK(st[1] == CUCLIP_ERR_LIMIT_EXCEEDED);
  CHECK(std::string(cuclip_last_error()).find("exceeds the limit") != std::string::npos);
  CHECK(all_nan(out.data() + D, D));
  CHECK(s < 2.0 * kTimeScale);  // tokenization is bounded; the fixture's forward pass is milliseconds
  cuclip_context_free(ctx);
}

TEST_CASE("max_text_bytes_is_honoured_per_item_and_good_items_equal_their_single_results") {
  Model model;
  cuclip_context* ctx = cpu_context(model.m, 64, 89478485);
  const int D = cuclip_model_embed_dim(model.m);
  const std::string long_text(65, 'z');
  const char* batch[3] = {"a photo of a cat", long_text.c_str(), "a diagram of a square"};
  std::vector<float> out(3 * (size_t)D);
  cuclip_status st[3];
  CHECK(cuclip_encode_texts(ctx, batch, 3, out.data(), st) == CUCLIP_ERR_LIMIT_EXCEEDED);
  CHECK(st[0] == CUCLIP_OK);
  CHECK(st[1] == CUCLIP_ERR_LIMIT_EXCEEDED);
  CHECK(st[2] == CUCLIP_OK);
  CHECK(all_nan(out.data() + D, D));
  for (int i : {0, 2}) {
    std::vector<float> alone((size_t)D);
    REQUIRE(cuclip_encode_texts(ctx, &batch[i], 1, alone.data(), nullptr) == CUCLIP_OK);
    CHECK(std::memcmp(alone.data(), out.data() + (size_t)i * D, (size_t)D * sizeof(float)) == 0);
  }
  // Exactly at the cap is allowed.
  const std::string at_cap(64, 'z');
  const char* one = at_cap.c_str();
  CHECK(cuclip_encode_texts(ctx, &one, 1, out.data(), st) == CUCLIP_OK);
  cuclip_context_free(ctx);
}

TEST_CASE("max_image_pixels_is_honoured_for_files_buffers_and_pixels") {
  Model model;
  const int D = cuclip_model_embed_dim(model.m);
  const std::string small = data_path("images/inputs/gray2.png"), big = data_path("images/inputs/astro_q90_420.jpg");  // 160x120
  img::Image small_im;
  REQUIRE(img::decode_file(small, {}, &small_im).ok());
  const uint64_t cap = (uint64_t)small_im.width * small_im.height;  // the small image fits exactly
  REQUIRE(cap < 160 * 120);
  cuclip_context* ctx = cpu_context(model.m, 1 << 20, cap);
  const char* paths[2] = {small.c_str(), big.c_str()};
  std::vector<float> out(2 * (size_t)D);
  cuclip_status st[2];
  CHECK(cuclip_encode_image_files(ctx, paths, 2, out.data(), st) == CUCLIP_ERR_LIMIT_EXCEEDED);
  CHECK(st[0] == CUCLIP_OK);
  CHECK(st[1] == CUCLIP_ERR_LIMIT_EXCEEDED);
  CHECK(all_nan(out.data() + D, D));

  std::vector<uint8_t> bytes;
  REQUIRE(read_file(big, 1 << 24, &bytes).ok());
  const void* data[1] = {bytes.data()};
  const size_t sizes[1] = {bytes.size()};
  CHECK(cuclip_encode_image_buffers(ctx, data, sizes, 1, out.data(), st) == CUCLIP_ERR_LIMIT_EXCEEDED);

  std::vector<uint8_t> pixels(160 * 120 * 3, 128);
  cuclip_image_view v{pixels.data(), 160, 120, 0, CUCLIP_PIXELS_RGB8};
  CHECK(cuclip_encode_image_pixels(ctx, &v, 1, out.data(), st) == CUCLIP_ERR_LIMIT_EXCEEDED);
  cuclip_context_free(ctx);
}

namespace {

std::string le16(uint16_t v) { return std::string(reinterpret_cast<const char*>(&v), 2); }
std::string le32(uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); }

// Headers claiming enormous images, one per format, each followed by a little data.
std::vector<std::pair<std::string, std::string>> bomb_headers() {
  std::vector<std::pair<std::string, std::string>> v;
  v.push_back({"GIF 65535x65535", "GIF89a" + le16(65535) + le16(65535) + std::string("\0\0\0", 3) + "," + le16(0) + le16(0) + le16(65535) +
                                      le16(65535) + std::string("\0\x08\x02\x4c\x01\0;", 7)});
  v.push_back({"BMP 100000x100000", "BM" + le32(54 + 16) + le32(0) + le32(54) + le32(40) + le32(100000) + le32(100000) + le16(1) + le16(24) +
                                        le32(0) + le32(0) + le32(2835) + le32(2835) + le32(0) + le32(0) + std::string(16, '\x7f')});
  // VP8L: signature 0x2f, then 14-bit width-1 and height-1 (16383 each), alpha 0, version 0.
  v.push_back({"WebP lossless 16384x16384", "RIFF" + le32(4 + 8 + 5 + 16) + "WEBP" + "VP8L" + le32(5 + 16) + "\x2f" + le32(0x0fffffff) +
                                                std::string(16, '\0')});
  v.push_back({"PNM 100000x100000", "P6\n100000 100000\n255\n" + std::string(16, '\x40')});
  v.push_back({"TGA 65535x65535", std::string("\0\0\x02", 3) + std::string(9, '\0') + le16(65535) + le16(65535) + std::string("\x18\0", 2) +
                                      std::string(16, '\x40')});
  for (const char* f : {"bad/images/bomb_100000x100000.png", "bad/images/bomb_60000x60000.jpg"}) {
    std::string s;
    REQUIRE(read_text_file(data_path(f), 1 << 20, &s).ok());
    v.push_back({f, s});
  }
  return v;
}

}  // namespace

TEST_CASE("huge_image_headers_in_every_format_are_refused_before_allocating") {
  for (const auto& [what, bytes] : bomb_headers()) {
    INFO(what);
    const Cost c = measure_in_child([&] {
      img::Image im;
      return (int)img::decode_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), {}, &im).code;
    });
    INFO("status " << cuclip_status_string((cuclip_status)c.result) << ", " << c.seconds << " s, peak memory +" << c.peak_growth_mb << " MB");
    REQUIRE_FALSE(c.crashed);
    CHECK(c.result == CUCLIP_ERR_LIMIT_EXCEEDED);
    CHECK(c.seconds < 0.2 * kTimeScale);
    if (!kSanitized) CHECK(c.peak_growth_mb < 16);
  }
}

TEST_CASE("model_header_and_tensor_count_caps_are_honoured") {
  const std::string path = cuclip_test::converted_fixture("openclip_openai_quickgelu_f32", DType::F32);
  cuclip_model* m = nullptr;
  cuclip_model_params p = cuclip_model_default_params();
  CHECK(p.max_header_bytes == 256ull << 20);
  CHECK(p.max_tensor_count == 65536);
  p.max_header_bytes = 4096;  // the fixture's header holds the 49408-token vocab: ~2 MB
  CHECK(cuclip_model_load(path.c_str(), p, &m) == CUCLIP_ERR_LIMIT_EXCEEDED);
  CHECK(std::string(cuclip_last_error()).find("exceeds the limit of 4096") != std::string::npos);
  CHECK(m == nullptr);
  p = cuclip_model_default_params();
  p.max_tensor_count = 10;
  CHECK(cuclip_model_load(path.c_str(), p, &m) == CUCLIP_ERR_LIMIT_EXCEEDED);
  CHECK(std::string(cuclip_last_error()).find("over the limit of 10") != std::string::npos);
  p = cuclip_model_default_params();
  REQUIRE(cuclip_model_load(path.c_str(), p, &m) == CUCLIP_OK);
  cuclip_model_free(m);
}
