// The emulated cuBLAS subset (cuclip::gpu::gemm) against a plain reference loop in double: every
// transpose combination, padded leading dimensions, strided batches, alpha/beta, the bias epilogue,
// f32/f16/bf16 inputs, and the argument checks.
#include <cmath>

#include "base/half.hpp"
#include "emu_testing.hpp"

using namespace cuclip_test;
using gpu::DType;
using gpu::Op;

namespace {

float round_to(DType t, float v) {
  if (t == DType::f16) return cuclip::f16_to_f32(cuclip::f32_to_f16(v));
  if (t == DType::bf16) return cuclip::bf16_to_f32(cuclip::f32_to_bf16(v));
  return v;
}

size_t size_of(DType t) { return t == DType::f32 ? 4 : 2; }

// Host values stored in a device buffer of the given type.
struct TypedBuffer {
  DType type;
  std::vector<float> values;  // exactly representable in type
  DeviceBuffer<uint8_t> device;
  TypedBuffer(DType t, std::vector<float> v) : type(t), values(std::move(v)), device(values.size() * size_of(t)) {
    std::vector<uint8_t> bytes(device.size());
    for (size_t i = 0; i < values.size(); ++i) {
      values[i] = round_to(t, values[i]);
      if (t == DType::f32) {
        std::memcpy(&bytes[i * 4], &values[i], 4);
      } else {
        uint16_t h = t == DType::f16 ? cuclip::f32_to_f16(values[i]) : cuclip::f32_to_bf16(values[i]);
        std::memcpy(&bytes[i * 2], &h, 2);
      }
    }
    device.upload(bytes);
  }
  std::vector<float> download() const {
    std::vector<uint8_t> bytes = device.download();
    std::vector<float> out(values.size());
    for (size_t i = 0; i < out.size(); ++i) {
      if (type == DType::f32) {
        std::memcpy(&out[i], &bytes[i * 4], 4);
      } else {
        uint16_t h;
        std::memcpy(&h, &bytes[i * 2], 2);
        out[i] = type == DType::f16 ? cuclip::f16_to_f32(h) : cuclip::bf16_to_f32(h);
      }
    }
    return out;
  }
};

struct Case {
  Op ta, tb;
  int m, n, k, batch;
  int pad;  // extra rows in every leading dimension
  float alpha, beta;
  DType in, out;
  bool bias;
};

void run_case(const Case& c) {
  CUCLIP_SEED_INFO();
  INFO("ta " << int(c.ta) << " tb " << int(c.tb) << " m " << c.m << " n " << c.n << " k " << c.k << " batch "
             << c.batch << " pad " << c.pad << " alpha " << c.alpha << " beta " << c.beta << " in " << int(c.in)
             << " out " << int(c.out) << " bias " << c.bias);
  const int rows_a = c.ta == Op::N ? c.m : c.k, cols_a = c.ta == Op::N ? c.k : c.m;
  const int rows_b = c.tb == Op::N ? c.k : c.n, cols_b = c.tb == Op::N ? c.n : c.k;
  const int64_t lda = rows_a + c.pad, ldb = rows_b + c.pad, ldc = c.m + c.pad;
  const int64_t sa = lda * cols_a + 5, sb = ldb * cols_b + 3, sc = ldc * c.n + 1;  // odd strides
  TypedBuffer a(c.in, random_floats(static_cast<size_t>(sa * c.batch)));
  TypedBuffer b(c.in, random_floats(static_cast<size_t>(sb * c.batch)));
  TypedBuffer cc(c.out, random_floats(static_cast<size_t>(sc * c.batch), -4.0f, 4.0f));
  TypedBuffer bias(c.out, random_floats(static_cast<size_t>(c.m)));
  gpu::Blas blas = nullptr;
  REQUIRE_OK(gpu::blas_create(&blas));
  gpu::GemmDesc g;
  g.trans_a = c.ta;
  g.trans_b = c.tb;
  g.m = c.m;
  g.n = c.n;
  g.k = c.k;
  g.alpha = c.alpha;
  g.beta = c.beta;
  g.a = a.device.get();
  g.a_type = c.in;
  g.lda = lda;
  g.stride_a = sa;
  g.b = b.device.get();
  g.b_type = c.in;
  g.ldb = ldb;
  g.stride_b = sb;
  g.c = cc.device.get();
  g.c_type = c.out;
  g.ldc = ldc;
  g.stride_c = sc;
  g.batch = c.batch;
  if (c.bias) {
    g.epilogue = gpu::Epilogue::bias;
    g.bias = bias.device.get();
  }
  REQUIRE_OK(gpu::gemm(blas, g, nullptr));
  std::vector<float> got = cc.download();
  REQUIRE_OK(gpu::blas_destroy(blas));

  const double out_ulp = c.out == DType::f32 ? std::ldexp(1.0, -24) : (c.out == DType::f16 ? std::ldexp(1.0, -11) : std::ldexp(1.0, -8));
  for (int bi = 0; bi < c.batch; ++bi) {
    for (int j = 0; j < c.n; ++j) {
      for (int i = 0; i < ldc; ++i) {
        size_t ci = static_cast<size_t>(bi * sc + i + j * ldc);
        if (i >= c.m) {  // padding rows of C are not part of the matrix: untouched
          REQUIRE(got[ci] == cc.values[ci]);
          continue;
        }
        double dot = 0, mag = 0;
        for (int p = 0; p < c.k; ++p) {
          double av = a.values[bi * sa + (c.ta == Op::N ? i + p * lda : p + i * lda)];
          double bv = b.values[bi * sb + (c.tb == Op::N ? p + j * ldb : j + p * ldb)];
          dot += av * bv;
          mag += std::fabs(av * bv);
        }
        double ref = c.alpha * dot + (c.beta != 0 ? c.beta * cc.values[ci] : 0.0) + (c.bias ? bias.values[i] : 0.0);
        // f32 accumulation (k additions, 2^-24 each of the magnitude), a few more roundings for
        // alpha/beta/bias, then one rounding to the output type.
        double scale = std::fabs(c.alpha) * mag + std::fabs(c.beta * cc.values[ci]) + (c.bias ? std::fabs(bias.values[i]) : 0.0);
        // With an f16/bf16 output, real cuBLASLt's bias epilogue rounds more than once (the bias is
        // taken in the output type and the GEMM result is rounded before the bias is added; seen
        // on an H200: 1.45 ulp off at |ref| 1.57): allow three roundings of the output type on
        // the magnitude of the terms.
        double out_roundings = c.out == DType::f32 ? std::fabs(ref) : 3 * scale;
        double tol = (c.k + 4) * std::ldexp(1.0, -24) * scale + out_ulp * out_roundings + 1e-30;
        INFO("batch " << bi << " row " << i << " col " << j << " got " << got[ci] << " ref " << ref << " tol " << tol);
        REQUIRE(std::fabs(got[ci] - ref) <= tol);
      }
    }
  }
}

}  // namespace

TEST_CASE("gemm_matches_reference_for_every_transpose_with_padding_and_batches", "[emulator][blas]") {
  for (Op ta : {Op::N, Op::T})
    for (Op tb : {Op::N, Op::T}) {
      run_case({ta, tb, 7, 5, 13, 1, 0, 1.0f, 0.0f, DType::f32, DType::f32, false});
      run_case({ta, tb, 9, 6, 17, 3, 2, 0.5f, 1.5f, DType::f32, DType::f32, false});
    }
}

TEST_CASE("gemm_f16_and_bf16_inputs_with_bias_epilogue", "[emulator][blas]") {
  for (DType in : {DType::f16, DType::bf16}) {
    run_case({Op::T, Op::N, 33, 7, 64, 2, 1, 1.0f, 0.0f, in, DType::f32, true});
    run_case({Op::N, Op::T, 12, 9, 40, 1, 0, 0.25f, 1.0f, in, in, true});
    run_case({Op::T, Op::N, 5, 3, 8, 1, 0, 1.0f, 0.0f, in, in, false});
  }
}

TEST_CASE("gemm_at_a_clip_projection_shape", "[emulator][blas]") {
  // y (768 x 77) = W^T (768 x 512) * x (512 x 77) + b: a text-tower projection, column-major.
  run_case({Op::T, Op::N, 768, 77, 512, 1, 0, 1.0f, 0.0f, DType::f16, DType::f16, true});
}

TEST_CASE("gemm_with_beta_zero_does_not_read_c", "[emulator][blas]") {
  DeviceBuffer<float> a(4), b(4), c(4);
  a.upload({1, 2, 3, 4});
  b.upload({1, 0, 0, 1});
  c.poison();  // NaN: must not leak into the result when beta == 0
  gpu::Blas blas = nullptr;
  REQUIRE_OK(gpu::blas_create(&blas));
  gpu::GemmDesc g;
  g.m = g.n = g.k = 2;
  g.a = a.get();
  g.b = b.get();
  g.c = c.get();
  g.lda = g.ldb = g.ldc = 2;
  REQUIRE_OK(gpu::gemm(blas, g, nullptr));
  CHECK(c.download() == std::vector<float>{1, 2, 3, 4});
  REQUIRE_OK(gpu::blas_destroy(blas));
}

TEST_CASE("gemm_rejects_bad_arguments_and_operands_outside_their_allocation", "[emulator][blas]") {
  DeviceBuffer<float> a(16), b(16), c(15);
  gpu::Blas blas = nullptr;
  REQUIRE_OK(gpu::blas_create(&blas));
  gpu::GemmDesc g;
  g.m = g.n = g.k = 4;
  g.a = a.get();
  g.b = b.get();
  g.c = c.get();
  g.lda = g.ldb = g.ldc = 4;
#if defined(CUCLIP_EMU)
  REQUIRE_ERROR(gpu::gemm(blas, g, nullptr), "gemm C", "overrun");  // cuBLAS would fault instead
#endif
  g.ldc = 3;
  REQUIRE_ERROR(gpu::gemm(blas, g, nullptr), "ldc 3");
  g.ldc = 4;
  g.b_type = DType::f16;
  REQUIRE_ERROR(gpu::gemm(blas, g, nullptr), "A is f32 but B is f16");
  g.b_type = DType::f32;
  g.epilogue = gpu::Epilogue::bias;
  REQUIRE_ERROR(gpu::gemm(blas, g, nullptr), "bias");
  REQUIRE_OK(gpu::blas_destroy(blas));
}
