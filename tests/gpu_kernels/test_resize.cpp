// kernels/resize.cu: a batch of images of different sizes, modes and presets, laid out and staged
// by engine/src/resize_batch.hpp as the CUDA backend does, must come out of the two passes as
// exactly the bytes of img::preprocess_u8 (the CPU pipeline, itself checked against Pillow), with
// the output poisoned beforehand. Exact: the kernel's integer arithmetic is the CPU's.
#include <random>

#include "common/resize_cases.hpp"
#include "engine/src/resize_batch.hpp"
#include "kernel_testing.hpp"
#include "kernels/resize.hpp"

using namespace cuclip_test;
namespace img = cuclip::img;

namespace {

// Runs one batch of cases through the kernel; returns the B x S x S x 3 output.
std::vector<uint8_t> run_batch(const std::vector<ResizeCase>& cases, int S) {
  std::vector<img::ResamplePlan> plans(cases.size());
  cuclip::ResizeBatchLayout layout;
  for (size_t i = 0; i < cases.size(); ++i) {
    INFO(cases[i].name);
    REQUIRE(img::plan_resample(cases[i].image, cases[i].preset, &plans[i]));
    layout.add(plans[i]);
  }
  std::vector<uint8_t> staged(layout.staged_bytes, 0xEE);
  for (size_t i = 0; i < cases.size(); ++i) cuclip::write_resize_item(layout, (int)i, plans[i], cases[i].image, staged.data());
  const int B = layout.count();
  DeviceBuffer<uint8_t> dstaged(staged.size()), tmp(std::max<size_t>(layout.tmp_bytes, 1)), out((size_t)B * S * S * 3);
  dstaged.upload(staged);
  tmp.poison();
  out.poison();
  const uint8_t* base = dstaged.get();
  REQUIRE_OK(cuclip::kernels::resize_crop_forward(B, S, reinterpret_cast<const cuclip::ResizeItem*>(base), layout.max_pass1,
                                                  reinterpret_cast<const int32_t*>(base + layout.taps_off),
                                                  base + layout.src_off, tmp.get(), out.get(), nullptr));
  return out.download();
}

}  // namespace

TEST_CASE("resize_crop_matches_cpu_preprocess_u8_bit_for_bit", "[gpu_kernels][resize]") {
  CUCLIP_SEED_INFO();
  // 33 and 64 cover every geometry of resize_cases at emulator speed; 224 (one batch of the photo
  // shapes) is CLIP's own size.
  for (int S : {33, 64, 224}) {
    std::vector<ResizeCase> cases = resize_cases(S, test_seed() + (unsigned)S);
    if (S == 224) cases.resize(3);
    const std::vector<uint8_t> got = run_batch(cases, S);
    for (size_t i = 0; i < cases.size(); ++i) {
      INFO("S " << S << ", item " << i << " of " << cases.size() << ": " << cases[i].name);
      std::vector<uint8_t> ref;
      REQUIRE(img::preprocess_u8(cases[i].image, cases[i].preset, &ref).ok());
      size_t bad = 0, first = 0;
      for (size_t k = 0; k < ref.size(); ++k)
        if (got[i * ref.size() + k] != ref[k] && bad++ == 0) first = k;
      INFO(bad << " bytes differ, first at " << first << ": got " << (int)got[i * ref.size() + first] << ", ref "
               << (int)ref[first]);
      REQUIRE(bad == 0);
    }
  }
}

TEST_CASE("resize_crop_refuses_bad_arguments", "[gpu_kernels][resize]") {
  CHECK(cuclip::kernels::resize_crop_forward(-1, 8, nullptr, 0, nullptr, nullptr, nullptr, nullptr, nullptr).code ==
        CUCLIP_ERR_INVALID_ARGUMENT);
  CHECK(cuclip::kernels::resize_crop_forward(1, 0, nullptr, 0, nullptr, nullptr, nullptr, nullptr, nullptr).code ==
        CUCLIP_ERR_INVALID_ARGUMENT);
  CHECK(cuclip::kernels::resize_crop_forward(0, 8, nullptr, 0, nullptr, nullptr, nullptr, nullptr, nullptr).ok());
}
