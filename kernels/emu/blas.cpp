// The emulated cuBLAS/cuBLASLt subset behind cuclip::gpu::gemm: a plain CPU GEMM with cuBLAS's
// semantics (column-major, transposes, leading dimensions, strided batches, alpha/beta, the bias
// epilogue). Inputs are widened to f32 and accumulated in f32, k in increasing order; C is read
// only when beta != 0 (cuBLAS does not read C for beta == 0, so NaN there does not propagate).
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/emu/half.hpp"
#include "kernels/emu/internal.hpp"
#include "kernels/gpu.hpp"

namespace cuclip::gpu::inline emu_build {

struct BlasState {};

namespace {

size_t element_size(DType t) { return t == DType::f32 ? 4 : 2; }

float load(const void* base, DType t, int64_t i) {
  switch (t) {
    case DType::f32: return static_cast<const float*>(base)[i];
    case DType::f16: return emu::f16_to_f32(static_cast<const uint16_t*>(base)[i]);
    case DType::bf16: return emu::bf16_to_f32(static_cast<const uint16_t*>(base)[i]);
  }
  return 0;
}

void store(void* base, DType t, int64_t i, float v) {
  switch (t) {
    case DType::f32: static_cast<float*>(base)[i] = v; break;
    case DType::f16: static_cast<uint16_t*>(base)[i] = emu::f32_to_f16_rn(v); break;
    case DType::bf16: static_cast<uint16_t*>(base)[i] = emu::f32_to_bf16_rn(v); break;
  }
}

// One matrix of the batch. op(A) is packed column by column (ap[p*m + i] = op(A)(i, p)) so the inner
// loop runs over contiguous i; four columns of C are accumulated per pass over op(A).
void gemm_one(const GemmDesc& g, const void* a, const void* b, void* c) {
  const int m = g.m, n = g.n, k = g.k;
  std::vector<float> ap(static_cast<size_t>(m) * k), bp(static_cast<size_t>(k) * n);
  for (int p = 0; p < k; ++p)
    for (int i = 0; i < m; ++i)
      ap[static_cast<size_t>(p) * m + i] = load(a, g.a_type, g.trans_a == Op::N ? i + p * g.lda : p + i * g.lda);
  for (int j = 0; j < n; ++j)
    for (int p = 0; p < k; ++p)
      bp[static_cast<size_t>(j) * k + p] = load(b, g.b_type, g.trans_b == Op::N ? p + j * g.ldb : j + p * g.ldb);

#pragma omp parallel for schedule(static)
  for (int j0 = 0; j0 < n; j0 += 4) {
    const int cols = std::min(4, n - j0);
    std::vector<float> acc(static_cast<size_t>(4) * m, 0.0f);
    for (int p = 0; p < k; ++p) {
      const float* col = &ap[static_cast<size_t>(p) * m];
      for (int jj = 0; jj < cols; ++jj) {
        const float bv = bp[static_cast<size_t>(j0 + jj) * k + p];
        float* out = &acc[static_cast<size_t>(jj) * m];
        for (int i = 0; i < m; ++i) out[i] += col[i] * bv;
      }
    }
    for (int jj = 0; jj < cols; ++jj) {
      const int j = j0 + jj;
      for (int i = 0; i < m; ++i) {
        const int64_t ci = i + static_cast<int64_t>(j) * g.ldc;
        float v = g.alpha * acc[static_cast<size_t>(jj) * m + i];
        if (g.beta != 0.0f) v += g.beta * load(c, g.c_type, ci);
        if (g.epilogue == Epilogue::bias) v += load(g.bias, g.c_type, i);
        store(c, g.c_type, ci, v);
      }
    }
  }
}

// The device memory a batched operand spans must lie in one allocation: reading past it here would
// crash the host thread instead of failing a kernel.
Status check_operand(const char* name, const void* p, DType t, int64_t rows, int64_t cols, int64_t ld, int64_t stride,
                     int batch) {
  if (rows == 0 || cols == 0) return Status::Ok();
  int64_t elements = (batch - 1) * stride + (cols - 1) * ld + rows;
  return emu::detail::check_device_range(p, static_cast<size_t>(elements) * element_size(t), name);
}

Status check_operands(const GemmDesc& g) {
  if (g.m == 0 || g.n == 0) return Status::Ok();
  bool ta = g.trans_a == Op::T, tb = g.trans_b == Op::T;
  if (g.k > 0) {
    CUCLIP_TRY(check_operand("gemm A", g.a, g.a_type, ta ? g.k : g.m, ta ? g.m : g.k, g.lda, g.stride_a, g.batch));
    CUCLIP_TRY(check_operand("gemm B", g.b, g.b_type, tb ? g.n : g.k, tb ? g.k : g.n, g.ldb, g.stride_b, g.batch));
  }
  CUCLIP_TRY(check_operand("gemm C", g.c, g.c_type, g.m, g.n, g.ldc, g.stride_c, g.batch));
  if (g.epilogue == Epilogue::bias) CUCLIP_TRY(check_operand("gemm bias", g.bias, g.c_type, g.m, 1, g.m, 0, 1));
  return Status::Ok();
}

}  // namespace

Status blas_create(Blas* out) {
  *out = new BlasState;
  return Status::Ok();
}
Status blas_destroy(Blas blas) {
  delete blas;
  return Status::Ok();
}

Status gemm(Blas blas, const GemmDesc& desc, Stream stream) {
  if (!blas) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "gemm: null BLAS handle");
  CUCLIP_TRY(validate_gemm(desc));
  CUCLIP_TRY(check_operands(desc));
  return emu::detail::enqueue_operation(stream, [desc] {
    CUCLIP_TRY(check_operands(desc));  // again at run time: a replayed graph may outlive a buffer
    if (desc.m == 0 || desc.n == 0) return Status::Ok();
    for (int i = 0; i < desc.batch; ++i) {
      auto a = static_cast<const char*>(desc.a) + static_cast<size_t>(i) * desc.stride_a * element_size(desc.a_type);
      auto b = static_cast<const char*>(desc.b) + static_cast<size_t>(i) * desc.stride_b * element_size(desc.b_type);
      auto c = static_cast<char*>(desc.c) + static_cast<size_t>(i) * desc.stride_c * element_size(desc.c_type);
      gemm_one(desc, a, b, c);
    }
    return Status::Ok();
  });
}

}  // namespace cuclip::gpu::inline emu_build
