// kernels/attention_ref.cu against cuclip::cpu::attention (run per sequence): packed sequences of
// CLIP lengths (1, 50, 77, 257) side by side in one call, causal (text) and not (vision), head dims
// 64 and 80 (and small ones as in the tiny fixtures), f32/f16/bf16, poisoned outputs.
#include <cmath>

#include "cuclip/cpu_ops.hpp"
#include "kernel_testing.hpp"
#include "kernels/attention_ref.hpp"

using namespace cuclip_test;

namespace {

void check_attention(DType dt, const std::vector<int>& lens, int NH, int HD, bool causal) {
  INFO(dtype_name(dt) << " NH " << NH << " HD " << HD << (causal ? " causal" : " full") << " sequences " << lens.size()
                   << " first length " << lens[0]);
  const int C = NH * HD, B = (int)lens.size();
  std::vector<int> cu(B + 1, 0);
  int max_len = 0;
  for (int b = 0; b < B; ++b) {
    cu[b + 1] = cu[b] + lens[b];
    max_len = std::max(max_len, lens[b]);
  }
  const int rows = cu[B];
  // Scores of magnitude up to ~HD/3 * scale: peaked softmaxes, as trained models have.
  const std::vector<float> qkv = round_to(dt, random_floats((size_t)rows * 3 * C, -1.5f, 1.5f));
  DeviceTensor dqkv(dt, qkv), out(dt, (size_t)rows * C);
  DeviceBuffer<int32_t> dcu(B + 1);
  dcu.upload(std::vector<int32_t>(cu.begin(), cu.end()));
  out.poison();
  REQUIRE_OK(cuclip::kernels::attention_ref_forward(dt, dqkv.get(), out.get(), dcu.get(), B, max_len, NH, HD, causal, nullptr));
  std::vector<float> ref((size_t)rows * C);
  for (int b = 0; b < B; ++b)
    cuclip::cpu::attention(1, lens[b], NH, HD, qkv.data() + (size_t)cu[b] * 3 * C, ref.data() + (size_t)cu[b] * C, causal, nullptr);
  // Outputs are convex combinations of v (|v| <= 1.5): both sides compute in f32 in different
  // orders (errors ~1e-6 of that scale), then dt rounds once.
  CUCLIP_REQUIRE_CLOSE(out.download(), ref, 1e-5, rtol_of(dt));
}

}  // namespace

TEST_CASE("attention_ref_matches_cpu_on_packed_clip_lengths", "[gpu_kernels][attention_ref]") {
  CUCLIP_SEED_INFO();
  for (DType dt : kAllDtypes)
    for (int HD : {64, 80})
      for (bool causal : {false, true}) check_attention(dt, {50, 1, 257, 77}, 2, HD, causal);
}

TEST_CASE("attention_ref_small_heads_and_single_sequences", "[gpu_kernels][attention_ref]") {
  CUCLIP_SEED_INFO();
  for (DType dt : kAllDtypes)
    for (int HD : {4, 8, 32, 33})
      for (bool causal : {false, true}) {
        check_attention(dt, {10}, 3, HD, causal);
        check_attention(dt, {17, 17, 17}, 1, HD, causal);
      }
}

TEST_CASE("attention_ref_empty_sequences_write_nothing", "[gpu_kernels][attention_ref]") {
  // Lengths 0 and 3: the empty sequence's (nonexistent) rows are skipped, the other is computed.
  const int NH = 1, HD = 8, C = NH * HD;
  const std::vector<float> qkv = random_floats((size_t)3 * 3 * C);
  DeviceTensor dqkv(DType::f32, qkv), out(DType::f32, (size_t)3 * C);
  DeviceBuffer<int32_t> dcu(3);
  dcu.upload({0, 0, 3});
  out.poison();
  REQUIRE_OK(cuclip::kernels::attention_ref_forward(DType::f32, dqkv.get(), out.get(), dcu.get(), 2, 3, NH, HD, false, nullptr));
  std::vector<float> ref((size_t)3 * C);
  cuclip::cpu::attention(1, 3, NH, HD, qkv.data(), ref.data(), false, nullptr);
  CUCLIP_REQUIRE_CLOSE(out.download(), ref, 1e-5, 1e-5);
}

TEST_CASE("attention_ref_rejects_bad_shapes", "[gpu_kernels][attention_ref]") {
  DeviceTensor x(DType::f32, 8);
  REQUIRE_ERROR(cuclip::kernels::attention_ref_forward(DType::f32, x.get(), x.get(), nullptr, 1, 1, 0, 8, false, nullptr), "NH");
  REQUIRE_ERROR(cuclip::kernels::attention_ref_forward(DType::f32, x.get(), x.get(), nullptr, 1, 1, 1, 300, false, nullptr), "HD");
  REQUIRE_OK(cuclip::kernels::attention_ref_forward(DType::f32, x.get(), x.get(), nullptr, 0, 1, 1, 8, false, nullptr));
}
