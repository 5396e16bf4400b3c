// kernels/attention.cu against cuclip::cpu::attention (run per sequence): f16 / bf16 (tensor cores)
// and f32, non-causal (vision) and causal (text), head dims 64, 80, 32, 128 and the ones that are not
// a multiple of 16 (8, 24, 40, 72: padded k-steps), sequence lengths 1 .. 577 across the 64-row tile
// boundaries, packed batches of mixed lengths; fresh random inputs, poisoned outputs. Also: a
// sequence never reads or writes rows outside its own range.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "cuclip/cpu_ops.hpp"
#include "kernels/attention.hpp"
#include "tc_kernels/tc_testing.hpp"

using namespace cuclip_test;

namespace {

constexpr float kQkRange = 2.0f;  // |q|, |k| <= 2: scores spread over several units, softmax peaky
constexpr float kVRange = 1.0f;

std::string describe(const std::vector<int>& lens) {
  std::string s;
  for (int l : lens) {  // appended piecewise: GCC 12 warns (-Wrestrict, a false positive) on "," + std::string
    if (!s.empty()) s += ',';
    s += std::to_string(l);
  }
  return s;
}

// Fresh qkv for the packed sequences: q and k columns in [-kQkRange, kQkRange], v in [-kVRange, kVRange],
// rounded to dt.
std::vector<float> random_qkv(DType dt, int total, int C) {
  std::vector<float> qkv = random_floats(static_cast<size_t>(total) * 3 * C, -1.0f, 1.0f);
  for (int r = 0; r < total; ++r)
    for (int c = 0; c < 2 * C; ++c) qkv[static_cast<size_t>(r) * 3 * C + c] *= kQkRange;
  round_all(dt, qkv);
  return qkv;
}

// grid_len: the max_seqlen passed to the launcher (0 = the true maximum); a smaller one sizes a
// smaller grid, which must still cover every row.
void check_attention(DType dt, const std::vector<int>& lens, int NH, int HD, bool causal, int grid_len = 0) {
  CUCLIP_SEED_INFO();
  INFO(dtype_name(dt) << " lengths {" << describe(lens) << "} NH=" << NH << " HD=" << HD << (causal ? " causal" : "") << " max_seqlen given " << grid_len);
  const int C = NH * HD, B = static_cast<int>(lens.size());
  std::vector<int> cu(B + 1, 0);
  for (int b = 0; b < B; ++b) cu[b + 1] = cu[b] + lens[b];
  const int total = cu[B], max_len = grid_len > 0 ? grid_len : *std::max_element(lens.begin(), lens.end());
  std::vector<float> qkv = random_qkv(dt, total, C);

  DeviceTensor dqkv(dt, qkv.size()), dout(dt, static_cast<size_t>(total) * C);
  DeviceBuffer<int> dcu(cu.size());
  dqkv.upload(qkv);
  dcu.upload(cu);
  dout.poison();
  REQUIRE_OK(cuclip::kernels::attention_forward(dt, dqkv.get(), dout.get(), dcu.get(), B, max_len, NH, HD, causal, nullptr));
  REQUIRE_OK(gpu::stream_synchronize(nullptr));
  const std::vector<float> got = dout.download();

  std::vector<float> ref(static_cast<size_t>(total) * C);
  for (int b = 0; b < B; ++b) {
    cuclip::cpu::attention(1, lens[b], NH, HD, qkv.data() + static_cast<size_t>(cu[b]) * 3 * C,
                           ref.data() + static_cast<size_t>(cu[b]) * C, causal, nullptr);
  }

  // Error budget of one output element, out = sum_j p_j v_j / sum_j p_j (p_j = exp of scaled scores):
  //  * tensor-core paths round each p_j to dt for the PV mma (relative half ulp of dt), while the sum
  //    uses the f32 p_j: a relative error <= half_ulp in p moves out by <= 2 * half_ulp * max|v|;
  //  * each score sums HD exact products in f32 on both sides: <= HD * 2^-24 * HD * max|q| max|k|,
  //    times the scale; a score error e changes the weights by a factor within exp(+-2e), i.e. out
  //    by <= 2e * max|v| (doubled: kernel and reference each err);
  //  * the output is rounded to dt: half an ulp relative to out;
  //  * expf/exp2f differ by a few f32 ulps between the GPU and the CPU: 2^-20, relative.
  const double hu = dt == DType::f32 ? 0.0 : half_ulp(dt);
  const double score_err = HD * 0x1p-24 * HD * kQkRange * kQkRange / std::sqrt(static_cast<double>(HD));
  const double atol = 2.0 * hu * kVRange + 2.0 * 2.0 * score_err * kVRange + 1e-6;
  const double rtol = half_ulp(dt) * 1.001 + 0x1p-20;
  CUCLIP_REQUIRE_CLOSE(got, ref, atol, rtol);
}

const DType kTcTypes[] = {DType::f16, DType::bf16};

}  // namespace

TEST_CASE("attention_matches_cpu_reference_vision_lengths_non_causal", "[tc][attention]") {
  struct Case {
    int T, NH, HD;
  };
  // CLIP vision: B/32 (50 tokens, 12 x 64), B/16 (197), L/14 (257, 16 x 64), H/14 (257, 16 x 80);
  // head counts trimmed where the emulator's time matters more than the count.
  const Case cases[] = {{1, 1, 64}, {7, 2, 80}, {50, 12, 64}, {64, 1, 64}, {65, 2, 32}, {197, 3, 64}, {257, 16, 80}, {257, 1, 128}};
  for (DType dt : kTcTypes)
    for (const Case& c : cases) check_attention(dt, {c.T}, c.NH, c.HD, false);
}

TEST_CASE("attention_matches_cpu_reference_text_lengths_causal", "[tc][attention]") {
  struct Case {
    int T, NH, HD;
  };
  // CLIP text: 77 tokens, 8 x 64 (B), 12 x 64 (L), 16 x 64 (H); shorter real caption lengths.
  const Case cases[] = {{1, 1, 64}, {7, 8, 64}, {50, 2, 80}, {77, 16, 64}, {128, 1, 32}, {129, 1, 128}};
  for (DType dt : kTcTypes)
    for (const Case& c : cases) check_attention(dt, {c.T}, c.NH, c.HD, true);
}

TEST_CASE("attention_pads_head_dims_that_are_not_multiples_of_16", "[tc][attention]") {
  // HD = 8, 24, 40, 72, 120: the last k16 step of Q K^T is half zero-filled padding.
  for (DType dt : kTcTypes) {
    for (int HD : {8, 24, 40, 72, 120}) {
      check_attention(dt, {77}, 2, HD, true);
      check_attention(dt, {70}, 1, HD, false);
    }
  }
}

TEST_CASE("attention_packed_variable_length_batches_match_per_sequence_reference", "[tc][attention]") {
  // Real caption lengths packed back to back (no padding to 77), crossing the 64-row tile edge
  // at every offset; and a vision-style mix.
  const std::vector<int> text = {5, 77, 1, 12, 64, 65, 33, 2};
  for (DType dt : kTcTypes) {
    check_attention(dt, text, 4, 64, true);
    check_attention(dt, {50, 1, 130, 7}, 3, 80, false);
    check_attention(dt, {13, 0, 29}, 2, 32, true);  // an empty sequence writes nothing
    check_attention(dt, {200, 3, 70}, 2, 64, true, 64);  // max_seqlen understated: one CTA per head loops
  }
}

TEST_CASE("attention_longest_clip_sequence_577", "[tc][attention]") {
  // L/14@336: 577 tokens = 10 query tiles (the last one row), 10 key tiles.
  check_attention(DType::f16, {577}, 1, 64, false);
  check_attention(DType::bf16, {577}, 1, 80, true);
}

TEST_CASE("attention_f32_matches_cpu_reference", "[tc][attention]") {
  check_attention(DType::f32, {1}, 1, 64, false);
  check_attention(DType::f32, {50, 77, 3}, 4, 80, false);
  check_attention(DType::f32, {77, 5, 40}, 8, 64, true);
  check_attention(DType::f32, {33}, 2, 128, true);
  check_attention(DType::f32, {20}, 2, 8, false);
  check_attention(DType::f32, {40, 9}, 1, 16, false, 8);  // max_seqlen understated
}

TEST_CASE("attention_reads_and_writes_only_its_own_sequences", "[tc][attention]") {
  // One sequence in the middle of a buffer whose other rows are NaN (poison): any read of them would
  // turn outputs to NaN, and any write to them would replace their poison.
  CUCLIP_SEED_INFO();
  for (DType dt : {DType::f16, DType::bf16, DType::f32}) {
    for (bool causal : {false, true}) {
      const int NH = 2, HD = 40, C = NH * HD, before = 3, len = 70, after = 5, total = before + len + after;
      std::vector<float> qkv = random_qkv(dt, total, C);
      for (int r = 0; r < total; ++r)
        if (r < before || r >= before + len)
          std::fill_n(qkv.begin() + static_cast<ptrdiff_t>(r) * 3 * C, 3 * C, NAN);
      DeviceTensor dqkv(dt, qkv.size()), dout(dt, static_cast<size_t>(total) * C);
      DeviceBuffer<int> dcu(2);
      dqkv.upload(qkv);
      dcu.upload({before, before + len});
      dout.poison();
      REQUIRE_OK(cuclip::kernels::attention_forward(dt, dqkv.get(), dout.get(), dcu.get(), 1, len, NH, HD, causal, nullptr));
      const std::vector<float> got = dout.download();
      INFO(dtype_name(dt) << (causal ? " causal" : ""));
      for (int r = 0; r < total; ++r) {
        const bool inside = r >= before && r < before + len;
        for (int c = 0; c < C; ++c) {
          INFO("row " << r << " column " << c);
          REQUIRE(std::isnan(got[static_cast<size_t>(r) * C + c]) != inside);
        }
      }
    }
  }
}

TEST_CASE("attention_forward_rejects_bad_arguments", "[tc][attention]") {
  DeviceTensor qkv(DType::f16, 3 * 64), out(DType::f16, 64);
  DeviceBuffer<int> cu(2);
  cu.upload({0, 1});
  auto run = [&](DType dt, int B, int max_len, int NH, int HD) {
    return cuclip::kernels::attention_forward(dt, qkv.get(), out.get(), cu.get(), B, max_len, NH, HD, false, nullptr);
  };
  REQUIRE_ERROR(run(DType::f16, 1, 1, 1, 60), "head dim 60");
  REQUIRE_ERROR(run(DType::f16, 1, 1, 1, 136), "head dim 136");
  REQUIRE_ERROR(run(DType::f16, 1, 1, 0, 64), "head count");
  REQUIRE_ERROR(run(DType::f16, -1, 1, 1, 64), "sequence count");
  REQUIRE_ERROR(run(DType::f16, 1, -1, 1, 64), "max_seqlen");
  REQUIRE_ERROR(run(static_cast<DType>(5), 1, 1, 1, 64), "unknown dtype");
  REQUIRE_ERROR(cuclip::kernels::attention_forward(DType::f16, qkv.get(), out.get(), nullptr, 1, 1, 1, 64, false, nullptr),
                "null");
  out.poison();
  REQUIRE_OK(run(DType::f16, 0, 1, 1, 64));
  REQUIRE_OK(run(DType::f16, 1, 0, 1, 64));
  for (float v : out.download()) REQUIRE(std::isnan(v));  // nothing launched, nothing written
}
