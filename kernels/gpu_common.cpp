// Parts of cuclip::gpu shared by both builds (compiled once into each): the GEMM argument checks,
// so that a call the emulator rejects is rejected on the GPU too, with the same message.
#include <string>

#include "kernels/gpu.hpp"

namespace cuclip::gpu::inline CUCLIP_BUILD_NS {

namespace {
const char* type_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f16: return "f16";
    case DType::bf16: return "bf16";
  }
  return "unknown";
}
}  // namespace

Status validate_gemm(const GemmDesc& g) {
  auto bad = [](const std::string& what) { return Err(CUCLIP_ERR_INVALID_ARGUMENT, "gemm: " + what); };
  if (g.m < 0 || g.n < 0 || g.k < 0 || g.batch < 1) {
    return bad("m, n, k must be >= 0 and batch >= 1 (m=" + std::to_string(g.m) + " n=" + std::to_string(g.n) +
               " k=" + std::to_string(g.k) + " batch=" + std::to_string(g.batch) + ")");
  }
  int64_t rows_a = g.trans_a == Op::N ? g.m : g.k;
  int64_t rows_b = g.trans_b == Op::N ? g.k : g.n;
  if (g.lda < std::max<int64_t>(1, rows_a)) return bad("lda " + std::to_string(g.lda) + " < rows of A " + std::to_string(rows_a));
  if (g.ldb < std::max<int64_t>(1, rows_b)) return bad("ldb " + std::to_string(g.ldb) + " < rows of B " + std::to_string(rows_b));
  if (g.ldc < std::max<int64_t>(1, g.m)) return bad("ldc " + std::to_string(g.ldc) + " < m " + std::to_string(g.m));
  if (g.stride_a < 0 || g.stride_b < 0 || g.stride_c < 0) return bad("negative batch stride");
  if (g.a_type != g.b_type) return bad(std::string("A is ") + type_name(g.a_type) + " but B is " + type_name(g.b_type));
  if (g.c_type != DType::f32 && g.c_type != g.a_type) {
    return bad(std::string(type_name(g.a_type)) + " inputs cannot produce " + type_name(g.c_type) + " (f32 or the input type)");
  }
  if (g.m > 0 && g.n > 0 && g.k > 0 && (!g.a || !g.b)) return bad("null A or B");
  if (g.m > 0 && g.n > 0 && !g.c) return bad("null C");
  if (g.epilogue == Epilogue::bias && !g.bias) return bad("bias epilogue without a bias vector");
  if (g.epilogue != Epilogue::none && g.epilogue != Epilogue::bias) return bad("unknown epilogue");
  return Status::Ok();
}

}  // namespace cuclip::gpu::inline CUCLIP_BUILD_NS
