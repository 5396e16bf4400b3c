// Golden tests for cuclip_image: every fixture image decodes to exactly what Pillow 13's
// Image.open gives (mode, size, pixel bytes, palette, transparency), and preprocesses to exactly
// the uint8 image open_clip's transform / transformers' CLIPImageProcessorPil feed the model,
// and (on a subset) to the same float32 tensor. Fixtures: tests/reference/gen_images.py.
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/file.hpp"
#include "base/npy.hpp"
#include "common/testing.hpp"
#include "cuclip/image.hpp"

using namespace cuclip;
using cuclip_test::data_path;

namespace {

nlohmann::json manifest() {
  std::ifstream f(data_path("images/manifest.json"));
  REQUIRE(f.good());
  return nlohmann::json::parse(f);
}

std::vector<uint8_t> npy_bytes(const std::string& rel) {
  NpyArray a;
  Status s = npy_read(data_path("images/" + rel), &a);
  INFO(s.message);
  REQUIRE(s.ok());
  return a.bytes;
}

// Names the first differing byte as a pixel (x, y, channel) for the failure message.
std::string first_difference(const std::vector<uint8_t>& got, const std::vector<uint8_t>& want, int width, int bpp) {
  if (got.size() != want.size())
    return "size differs: got " + std::to_string(got.size()) + " bytes, want " + std::to_string(want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] != want[i]) {
      const size_t px = i / bpp;
      return "first difference at x=" + std::to_string(px % width) + " y=" + std::to_string(px / width) +
             " byte " + std::to_string(i % bpp) + ": got " + std::to_string(got[i]) + ", want " +
             std::to_string(want[i]);
    }
  }
  return "";
}

img::Preset preset_named(const std::string& name) {
  if (name == "openai_64") return img::openai_preset(64);
  if (name == "hf_64") return img::hf_clip_preset(64);
  if (name == "openai_224") return img::openai_preset(224);
  if (name == "hf_224") return img::hf_clip_preset(224);
  img::Preset p = img::openai_preset(48);
  if (name == "openai_bilinear_48") p.interp = img::Interp::Bilinear;
  else if (name == "openai_squash_48") p.resize_mode = img::ResizeMode::Squash;
  else if (name == "openai_longest_48") p.resize_mode = img::ResizeMode::Longest;
  else if (name == "openai_longest_48_fill128") { p.resize_mode = img::ResizeMode::Longest; p.fill = 128; }
  else if (name == "hf_resize72_crop64") { p = img::hf_clip_preset(64); p.resize_size = 72; }
  else FAIL("unknown preset " << name);
  return p;
}

}  // namespace

TEST_CASE("decoded_pixels_match_pillow_for_every_fixture_format_and_mode", "[image]") {
  const auto m = manifest();
  REQUIRE(m["images"].size() >= 30);
  for (const auto& e : m["images"]) {
    const std::string file = e["file"];
    INFO(file);
    img::Image im;
    Status s = img::decode_file(data_path("images/" + file), {}, &im);
    INFO(s.message);
    REQUIRE(s.ok());
    CHECK(std::string(img::mode_name(im.mode)) == e["mode"].get<std::string>());
    REQUIRE(im.width == e["width"].get<int>());
    REQUIRE(im.height == e["height"].get<int>());
    CHECK(im.has_transparency == e["transparency"].get<bool>());
    if (e.contains("decoded")) {
      const auto want = npy_bytes(e["decoded"]);
      const std::string diff = first_difference(im.pixels, want, im.width, img::bytes_per_pixel(im.mode));
      INFO(diff);
      CHECK(diff.empty());
    } else {
      CHECK(crc32_of(im.pixels.data(), im.pixels.size()) == e["decoded_crc32"].get<uint32_t>());
    }
    if (e.contains("palette_rgba")) {
      const auto want = e["palette_rgba"].get<std::vector<int>>();
      REQUIRE(want.size() == 1024);
      for (int i = 0; i < 1024; ++i) {
        INFO("palette entry " << i / 4 << " channel " << i % 4);
        REQUIRE(im.palette[i] == want[i]);
      }
    }
    if (e.contains("transparent_color") && im.mode != img::Mode::P) {
      const auto t = e["transparent_color"].get<std::vector<int>>();
      for (size_t c = 0; c < t.size(); ++c) CHECK(im.transparent_color[c] == t[c]);
    }
  }
}

TEST_CASE("exif_orientation_is_applied_like_ImageOps_exif_transpose", "[image]") {
  img::DecodeOptions opt;
  opt.apply_exif_orientation = true;
  img::Image im;
  REQUIRE(img::decode_file(data_path("images/inputs/chelsea_exif6.jpg"), opt, &im).ok());
  const auto want = npy_bytes("expected/chelsea_exif6_jpg.exif.npy");
  REQUIRE(im.width == 60);
  REQUIRE(im.height == 80);
  const std::string diff = first_difference(im.pixels, want, im.width, 3);
  INFO(diff);
  CHECK(diff.empty());
}

TEST_CASE("preprocessed_uint8_images_match_open_clip_and_transformers_exactly", "[image]") {
  const auto m = manifest();
  int checked = 0;
  for (const auto& e : m["images"]) {
    img::Image im;
    REQUIRE(img::decode_file(data_path("images/" + e["file"].get<std::string>()), {}, &im).ok());
    for (const auto& o : e["outputs"]) {
      const std::string preset = o["preset"];
      INFO(e["file"].get<std::string>() << " preset " << preset);
      const img::Preset p = preset_named(preset);
      std::vector<uint8_t> rgb;
      Status s = img::preprocess_u8(im, p, &rgb);
      INFO(s.message);
      REQUIRE(s.ok());
      const auto want = npy_bytes(o["u8"]);
      const std::string diff = first_difference(rgb, want, p.size, 3);
      INFO(diff);
      CHECK(diff.empty());
      ++checked;
    }
  }
  CHECK(checked >= 100);
}

TEST_CASE("normalized_float_tensors_match_torchvision_and_transformers", "[image]") {
  const auto m = manifest();
  int checked = 0;
  for (const auto& e : m["images"]) {
    img::Image im;
    REQUIRE(img::decode_file(data_path("images/" + e["file"].get<std::string>()), {}, &im).ok());
    for (const auto& o : e["outputs"]) {
      if (!o.contains("f32")) continue;
      INFO(e["file"].get<std::string>() << " preset " << o["preset"].get<std::string>());
      const img::Preset p = preset_named(o["preset"]);
      std::vector<float> got(3 * p.size * p.size, -1.0f);
      REQUIRE(img::preprocess(im, p, got.data()).ok());
      NpyArray a;
      REQUIRE(npy_read(data_path("images/" + o["f32"].get<std::string>()), &a).ok());
      const std::vector<float> want = a.as_f32();
      // Same uint8 input and the same float32 operations in the same order (x / 255.f or
      // float(x * (1/255) in double), then (x - mean) / std without FMA): the results are
      // bit-identical, so the tolerance is zero.
      CUCLIP_REQUIRE_CLOSE(got, want, 0.0, 0.0);
      ++checked;
    }
  }
  CHECK(checked >= 10);
}

TEST_CASE("batch_path_decoding_only_the_crop_window_equals_full_decode_then_preprocess", "[image]") {
  // preprocess_files / preprocess_buffers let the JPEG decoder skip the IDCT of columns and rows the
  // preset never reads. The result must not change: compare with decode-everything + preprocess
  // for every fixture and presets whose windows cut the images at many different places.
  const auto m = manifest();
  std::vector<img::Preset> presets;
  for (int size : {16, 37, 64, 100}) {
    presets.push_back(img::openai_preset(size));
    presets.push_back(img::hf_clip_preset(size));
  }
  img::Preset longest = img::openai_preset(40);
  longest.resize_mode = img::ResizeMode::Longest;
  presets.push_back(longest);
  img::Preset bilinear = img::hf_clip_preset(30);
  bilinear.interp = img::Interp::Bilinear;
  bilinear.resize_size = 50;
  presets.push_back(bilinear);
  for (const auto& e : m["images"]) {
    const std::string file = data_path("images/" + e["file"].get<std::string>());
    std::vector<uint8_t> bytes;
    REQUIRE(read_file(file, 1 << 24, &bytes).ok());
    img::Image full;
    REQUIRE(img::decode_file(file, {}, &full).ok());
    for (const auto& p : presets) {
      INFO(file << " size " << p.size << " order " << (int)p.order);
      const size_t per = 3 * (size_t)p.size * p.size;
      std::vector<float> batch(per), single(per);
      Status st;
      img::preprocess_buffers({bytes.data()}, {bytes.size()}, p, {}, batch.data(), &st, 1);
      INFO(st.message);
      REQUIRE(st.ok());
      REQUIRE(img::preprocess(full, p, single.data()).ok());
      size_t bad = 0;
      for (size_t k = 0; k < per; ++k) bad += batch[k] != single[k];
      CHECK(bad == 0);
    }
  }
}
