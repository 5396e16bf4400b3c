// kernels/embed.cu against the CPU: im2col against cuclip::cpu::im2col_patches (S a multiple of P or
// not: trailing pixels dropped), vision tokens (class + pos, then ln_pre against cpu::layernorm, or
// none), text tokens over packed sequences of different lengths. f32/f16/bf16; poisoned outputs.
#include <cstring>

#include "cuclip/cpu_ops.hpp"
#include "kernel_testing.hpp"
#include "kernels/embed.hpp"

using namespace cuclip_test;

TEST_CASE("im2col_matches_cpu_patches_including_ragged_images", "[gpu_kernels][embed]") {
  CUCLIP_SEED_INFO();
  struct Shape { int B, S, P; };
  for (DType dt : kAllDtypes)
    for (Shape sh : {Shape{1, 36, 12}, Shape{3, 35, 7}, Shape{2, 37, 8}, Shape{1, 16, 16}, Shape{3, 30, 14}}) {
      INFO(dtype_name(dt) << " B " << sh.B << " S " << sh.S << " P " << sh.P);
      const int G = sh.S / sh.P, SG = G * sh.P, K = 3 * sh.P * sh.P;
      const std::vector<float> px = random_floats((size_t)sh.B * 3 * sh.S * sh.S, -2.0f, 2.0f);
      DeviceTensor dpx(DType::f32, px), cols(dt, (size_t)sh.B * G * G * K);
      cols.poison();
      REQUIRE_OK(cuclip::kernels::im2col_forward(dt, sh.B, sh.S, sh.P, (const float*)dpx.get(), cols.get(), nullptr));
      // The CPU op wants P | S: crop the trailing rows and columns the strided conv never reads.
      std::vector<float> cropped((size_t)sh.B * 3 * SG * SG), ref(cols.size());
      for (int i = 0; i < sh.B * 3; ++i)
        for (int y = 0; y < SG; ++y)
          std::memcpy(&cropped[((size_t)i * SG + y) * SG], &px[((size_t)i * sh.S + y) * sh.S], sizeof(float) * SG);
      cuclip::cpu::im2col_patches(sh.B, SG, sh.P, cropped.data(), ref.data());
      // A copy with one rounding to dt: exactly the host's round-to-nearest-even.
      CUCLIP_REQUIRE_CLOSE(cols.download(), round_to(dt, ref), 0.0, 0.0);
    }
}

TEST_CASE("im2col_u8_equals_cpu_normalize_then_im2col_bit_for_bit", "[gpu_kernels][embed]") {
  // The GPU path's input: uint8 RGB images normalized on the device through the host's table. Its
  // columns must be exactly the float path's (img::normalize_u8, then im2col): same table values,
  // one rounding to dt.
  CUCLIP_SEED_INFO();
  struct Shape { int B, S, P; };
  float lut[3 * 256];
  for (int c = 0; c < 3; ++c)
    for (int v = 0; v < 256; ++v) lut[c * 256 + v] = ((float)v / 255.0f - 0.45f + 0.01f * c) / (0.27f + 0.005f * c);
  for (DType dt : kAllDtypes)
    for (Shape sh : {Shape{1, 36, 12}, Shape{3, 35, 7}, Shape{2, 16, 16}}) {
      INFO(dtype_name(dt) << " B " << sh.B << " S " << sh.S << " P " << sh.P);
      const int G = sh.S / sh.P, SG = G * sh.P, K = 3 * sh.P * sh.P;
      const size_t n = (size_t)sh.B * sh.S * sh.S * 3;
      std::vector<uint8_t> rgb(n);
      const std::vector<float> r = random_floats(n, 0.0f, 255.99f);
      for (size_t i = 0; i < n; ++i) rgb[i] = (uint8_t)r[i];
      uint8_t* drgb = nullptr;
      REQUIRE_OK(cuclip::gpu::device_alloc((void**)&drgb, n));
      REQUIRE_OK(cuclip::gpu::memcpy_h2d(drgb, rgb.data(), n, nullptr));
      DeviceTensor dlut(DType::f32, std::vector<float>(lut, lut + 3 * 256)), cols(dt, (size_t)sh.B * G * G * K);
      cols.poison();
      REQUIRE_OK(cuclip::kernels::im2col_u8_forward(dt, sh.B, sh.S, sh.P, drgb, (const float*)dlut.get(), cols.get(), nullptr));
      std::vector<float> got = cols.download();
      REQUIRE_OK(cuclip::gpu::device_free(drgb));
      // Reference: normalize to CHW float with the table, crop to the patch grid, im2col.
      std::vector<float> cropped((size_t)sh.B * 3 * SG * SG), ref(got.size());
      for (int b = 0; b < sh.B; ++b)
        for (int c = 0; c < 3; ++c)
          for (int y = 0; y < SG; ++y)
            for (int x = 0; x < SG; ++x)
              cropped[(((size_t)b * 3 + c) * SG + y) * SG + x] = lut[c * 256 + rgb[(((size_t)b * sh.S + y) * sh.S + x) * 3 + c]];
      cuclip::cpu::im2col_patches(sh.B, SG, sh.P, cropped.data(), ref.data());
      CUCLIP_REQUIRE_CLOSE(got, round_to(dt, ref), 0.0, 0.0);
    }
}

TEST_CASE("vision_tokens_add_class_and_position_then_ln_pre", "[gpu_kernels][embed]") {
  CUCLIP_SEED_INFO();
  const float eps = 1e-5f;
  for (DType dt : kAllDtypes)
    for (int B : {1, 3})
      for (int N : {9, 49})
        for (int C : {64, 80, 100})
          for (bool ln : {true, false}) {
            INFO(dtype_name(dt) << " B " << B << " N " << N << " C " << C << " ln_pre " << ln);
            const int T = N + 1;
            const std::vector<float> patches = round_to(dt, random_floats((size_t)B * N * C, -1.0f, 1.0f));
            const std::vector<float> cls = random_floats(C), pos = random_floats((size_t)T * C);
            const std::vector<float> w = random_floats(C, 0.5f, 1.5f), b = random_floats(C, -0.5f, 0.5f);
            DeviceTensor dp(dt, patches), dcls(DType::f32, cls), dpos(DType::f32, pos), dw(DType::f32, w), db(DType::f32, b);
            DeviceTensor out(dt, (size_t)B * T * C);
            out.poison();
            REQUIRE_OK(cuclip::kernels::vision_tokens_forward(dt, B, N, C, dp.get(), (const float*)dcls.get(),
                                                              (const float*)dpos.get(), ln ? (const float*)dw.get() : nullptr,
                                                              ln ? (const float*)db.get() : nullptr, eps, out.get(), nullptr));
            std::vector<float> ref((size_t)B * T * C);
            for (int bi = 0; bi < B; ++bi)
              for (int t = 0; t < T; ++t)
                for (int c = 0; c < C; ++c)
                  ref[((size_t)bi * T + t) * C + c] =
                      (t == 0 ? cls[c] : patches[((size_t)bi * N + t - 1) * C + c]) + pos[(size_t)t * C + c];
            if (ln) cuclip::cpu::layernorm(B * T, C, ref.data(), C, w.data(), b.data(), eps, ref.data(), C);
            // As LayerNorm's test: f32 statistics against double ones, then one rounding to dt.
            CUCLIP_REQUIRE_CLOSE(out.download(), ref, 2e-5, rtol_of(dt));
          }
}

TEST_CASE("text_tokens_gather_packed_sequences_with_their_positions", "[gpu_kernels][embed]") {
  CUCLIP_SEED_INFO();
  const int V = 300, L = 77;
  for (DType dt : kAllDtypes)
    for (int C : {16, 80, 130}) {
      INFO(dtype_name(dt) << " C " << C);
      const std::vector<int> lens = {1, 77, 13, 50, 2};
      std::vector<int> ids, positions;
      for (int len : lens) {
        const std::vector<int> seq = random_ints(len, 0, V - 1);
        ids.insert(ids.end(), seq.begin(), seq.end());
        for (int t = 0; t < len; ++t) positions.push_back(t);
      }
      const int rows = (int)ids.size();
      const std::vector<float> table = round_to(dt, random_floats((size_t)V * C)), pos = random_floats((size_t)L * C);
      DeviceTensor dtable(dt, table), dpos(DType::f32, pos), out(dt, (size_t)rows * C);
      DeviceBuffer<int32_t> dids(rows), dposi(rows);
      dids.upload(std::vector<int32_t>(ids.begin(), ids.end()));
      dposi.upload(std::vector<int32_t>(positions.begin(), positions.end()));
      out.poison();
      REQUIRE_OK(cuclip::kernels::text_tokens_forward(dt, rows, C, dids.get(), dposi.get(), dtable.get(),
                                                      (const float*)dpos.get(), out.get(), nullptr));
      std::vector<float> ref((size_t)rows * C);
      for (int r = 0; r < rows; ++r)
        for (int c = 0; c < C; ++c) ref[(size_t)r * C + c] = round_to(dt, table[(size_t)ids[r] * C + c] + pos[(size_t)positions[r] * C + c]);
      // One f32 add rounded once, the same on both sides.
      CUCLIP_REQUIRE_CLOSE(out.download(), ref, 0.0, 0.0);
    }
}

TEST_CASE("embed_launchers_reject_bad_shapes", "[gpu_kernels][embed]") {
  DeviceTensor px(DType::f32, 3 * 8 * 8), cols(DType::f32, 3 * 64);
  REQUIRE_ERROR(cuclip::kernels::im2col_forward(DType::f32, 1, 4, 8, (const float*)px.get(), cols.get(), nullptr), "P");
  REQUIRE_ERROR(cuclip::kernels::vision_tokens_forward(DType::f32, 1, 0, 8, cols.get(), nullptr, nullptr, nullptr, nullptr, 1e-5f,
                                                       cols.get(), nullptr),
                "N");
  REQUIRE_OK(cuclip::kernels::text_tokens_forward(DType::f32, 0, 8, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr));
}
