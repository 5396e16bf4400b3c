// img::plan_resample + img::run_resample_plan, the host reference of the CUDA backend's resize
// kernel, must give preprocess_u8's bytes exactly for every image and preset it accepts
// (tests/common/resize_cases.hpp), and must decline what only preprocess_u8 does.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "common/resize_cases.hpp"
#include "common/testing.hpp"

using namespace cuclip;
using namespace cuclip_test;

namespace {

// Fresh images on every run; CUCLIP_TEST_SEED reproduces a failure (the seed is printed with it).
unsigned seed() {
  static const unsigned s = [] {
    const char* v = std::getenv("CUCLIP_TEST_SEED");
    return v && *v ? (unsigned)std::strtoul(v, nullptr, 10) : std::random_device{}();
  }();
  return s;
}

}  // namespace

TEST_CASE("resample_plan_reproduces_preprocess_u8_bit_for_bit", "[image][resample_plan]") {
  INFO("CUCLIP_TEST_SEED=" << seed());
  for (int size : {224, 64, 33}) {
    for (const ResizeCase& rc : resize_cases(size, seed() + (unsigned)size)) {
      INFO("size " << size << ": " << rc.name);
      std::vector<uint8_t> ref;
      REQUIRE(img::preprocess_u8(rc.image, rc.preset, &ref).ok());
      img::ResamplePlan plan;
      REQUIRE(img::plan_resample(rc.image, rc.preset, &plan));
      const int C = plan.channels;
      const size_t stride = (size_t)rc.image.width * C;
      const uint8_t* src = rc.image.pixels.data() + (size_t)plan.src_y0 * stride + (size_t)plan.src_x0 * C;
      std::vector<uint8_t> got((size_t)size * size * 3, 0xA5);
      img::run_resample_plan(plan, src, stride, got.data());
      size_t mismatches = 0, first = 0;
      for (size_t i = 0; i < got.size(); ++i)
        if (got[i] != ref[i] && mismatches++ == 0) first = i;
      INFO(mismatches << " bytes differ, first at " << first << " (got " << (int)got[first] << ", ref " << (int)ref[first] << ")");
      REQUIRE(mismatches == 0);
    }
  }
}

TEST_CASE("resample_plan_declines_what_only_the_cpu_pipeline_does", "[image][resample_plan]") {
  std::mt19937 rng(seed());
  img::ResamplePlan plan;
  const img::Preset oa = img::openai_preset(64), hf = img::hf_clip_preset(64);
  for (img::Mode m : {img::Mode::P, img::Mode::RGBA, img::Mode::LA, img::Mode::CMYK, img::Mode::Bit1, img::Mode::I16}) {
    INFO(img::mode_name(m));
    CHECK_FALSE(img::plan_resample(random_image(100, 80, m, rng), oa, &plan));
  }
  img::Image keyed = random_image(100, 80, img::Mode::RGB, rng);
  keyed.has_transparency = true;
  CHECK_FALSE(img::plan_resample(keyed, hf, &plan));  // composited over white first
  CHECK(img::plan_resample(keyed, oa, &plan));         // convert("RGB") ignores the key
  img::Preset nearest = oa;
  nearest.interp = img::Interp::Nearest;
  CHECK_FALSE(img::plan_resample(random_image(100, 80, img::Mode::RGB, rng), nearest, &plan));
  img::Preset no_crop = oa;
  no_crop.center_crop = false;  // shortest-side resize without a crop: preprocess_u8 refuses it
  CHECK_FALSE(img::plan_resample(random_image(100, 80, img::Mode::RGB, rng), no_crop, &plan));
  img::Image broken = random_image(10, 10, img::Mode::RGB, rng);
  broken.pixels.pop_back();
  CHECK_FALSE(img::plan_resample(broken, oa, &plan));
}

TEST_CASE("resample_plan_reproduces_preprocess_u8_on_every_fixture_image", "[image][resample_plan]") {
  std::vector<std::string> files;
  for (const char* dir : {"images/inputs", "reference/images"})
    for (const auto& e : std::filesystem::directory_iterator(data_path(dir))) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  int planned = 0;
  for (const std::string& f : files) {
    std::vector<uint8_t> bytes;
    {
      std::ifstream in(f, std::ios::binary);
      bytes.assign(std::istreambuf_iterator<char>(in), {});
    }
    for (int size : {35, 224})
      for (img::Preset p : {img::openai_preset(size), img::hf_clip_preset(size)}) {
        img::Image im;
        if (!img::decode_memory_for_preset(bytes.data(), bytes.size(), {}, p, &im).ok()) continue;
        img::ResamplePlan plan;
        if (!img::plan_resample(im, p, &plan)) continue;
        ++planned;
        INFO(f << " (" << img::mode_name(im.mode) << " " << im.width << "x" << im.height << "), size " << size << ", "
               << (p.order == img::Order::ResizeCropThenRgb ? "openai" : "hf"));
        std::vector<uint8_t> ref;
        REQUIRE(img::preprocess_u8(im, p, &ref).ok());
        size_t stride = (size_t)im.width * plan.channels;
        std::vector<uint8_t> got((size_t)size * size * 3, 0xA5);
        img::run_resample_plan(plan, im.pixels.data() + plan.src_y0 * stride + (size_t)plan.src_x0 * plan.channels, stride,
                               got.data());
        size_t bad = 0, first = 0;
        for (size_t i = 0; i < got.size(); ++i)
          if (got[i] != ref[i] && bad++ == 0) first = i;
        INFO(bad << " bytes differ, first at " << first);
        REQUIRE(bad == 0);
      }
  }
  CHECK(planned > 40);  // most fixtures are RGB or L
}
