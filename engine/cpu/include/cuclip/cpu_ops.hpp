// cuclip's CPU reference ops: the fp32 building blocks of the CLIP forward pass (GEMM with fused
// epilogue, LayerNorm, attention, patch extraction, softmax, L2 normalisation).
//
// They serve twice: as the CPU backend for users without a GPU, and as the oracle every CUDA kernel is
// checked against, so each op is written to be plainly correct first and fast second.
//
// Conventions shared by every op:
//  * fp32, row-major; "ld*" arguments are row strides in elements (>= the row width).
//  * Multi-threaded with OpenMP using omp_get_max_threads() threads (set it with omp_set_num_threads
//    or OMP_NUM_THREADS). Results do not depend on the thread count: every output element is computed
//    by one thread in a fixed order (the OpenBLAS GEMM path is the one exception — see gemm()).
//  * Shapes are trusted: the engine validates them before calling (these functions do not return a
//    Status). Counts of zero are allowed and do nothing. Scratch memory comes from operator new and is
//    allocated before any parallel region, so an allocation failure surfaces as std::bad_alloc in the
//    calling thread, which the engine's C API boundary must catch. gemm keeps its packing scratch per
//    calling thread for reuse (about 240*K + threads*128K floats: ~5 MB at K = 4096, 2 threads).
#pragma once
#include <memory>

namespace cuclip::cpu {

enum class Act {
  None,
  QuickGelu,  // x * sigmoid(1.702 x)  (OpenAI CLIP)
  GeluErf,    // 0.5 x (1 + erf(x / sqrt 2))  (exact GELU, open_clip / HF non-OpenAI models)
};

// ---- GEMM ---------------------------------------------------------------------------------------
// C[m, n] = act(sum_k A[m, k] * W[n, k] + bias[n]) + residual[m, n]
// W is [N, K] row-major (PyTorch Linear's [out, in]). bias and residual may be null. residual may be
// exactly C (same pointer and ldr == ldc: an in-place residual add); otherwise it must not overlap C.
// A and W must not overlap C. Which engine runs it is chosen by gemm_backend() (see below).
void gemm(int M, int N, int K, const float* A, int lda, const float* W, int ldw, const float* bias, Act act,
          const float* residual, int ldr, float* C, int ldc);

// Weights rearranged once per model into the panel layout our microkernel streams (see
// docs/cpu_gemm.md). Immutable and shareable between threads once built.
struct PackedW;
std::shared_ptr<const PackedW> pack_weights(int N, int K, const float* W, int ldw);
int packed_rows(const PackedW& w);  // N
int packed_cols(const PackedW& w);  // K
// Same contract as gemm() with W taken from the packed copy. Always runs our own kernel.
void gemm_packed(int M, const PackedW& W, const float* A, int lda, const float* bias, Act act,
                 const float* residual, int ldr, float* C, int ldc);

// Which instruction set our kernel uses. Auto = the best this CPU supports. Forcing an Isa the CPU
// lacks is refused (set_gemm_isa returns false and nothing changes). Packed weights remember the Isa
// they were packed for (the panel width differs), so set it before pack_weights.
enum class Isa { Auto, Scalar, Avx2, Avx512 };
bool isa_supported(Isa isa);
bool set_gemm_isa(Isa isa);
Isa gemm_isa();  // the resolved Isa now in force (never Auto)
const char* isa_name(Isa isa);

// Which library gemm() uses: ours, or OpenBLAS's sgemm followed by a separate epilogue pass
// (only when built with OpenBLAS; otherwise ours). The default is the winner of the measurements in
// docs/cpu_gemm.md. Returns false (and changes nothing) for OpenBlas when it is not built in.
enum class GemmBackend { Own, OpenBlas };
bool set_gemm_backend(GemmBackend b);
GemmBackend gemm_backend();
bool have_openblas();

// ---- normalisation, attention, misc -------------------------------------------------------------
// LayerNorm over the last dim: y = (x - mean) / sqrt(var + eps) * w + b, biased variance, statistics
// accumulated in double. w and b may be null (meaning 1 and 0). y may be x (same pointer, ldy == ldx).
void layernorm(int rows, int C, const float* x, int ldx, const float* w, const float* b, float eps, float* y,
               int ldy);

// Multi-head attention on a packed qkv buffer: qkv is [B*T, 3*C] (row stride 3*C) holding q | k | v
// blocks of C = NH*HD columns each; head h is columns h*HD .. h*HD+HD-1 within each block.
// out is [B*T, C] (row stride C), heads concatenated the same way. Scores are scaled by HD^-0.5.
// causal: token t attends to keys 0..t. valid_len (nullable, B entries): keys at positions
// >= valid_len[b] are masked out. Query rows at positions >= valid_len[b] are still computed (they
// attend to the valid keys), matching PyTorch with a key-padding mask. A query row left with no key
// (valid_len[b] <= 0) gets zeros rather than NaN. valid_len values above T are treated as T.
// out must not overlap qkv.
void attention(int B, int T, int NH, int HD, const float* qkv, float* out, bool causal, const int* valid_len);

// Patch extraction for the conv-as-GEMM patch embedding: img is [B, 3, S, S] (CHW per image) and P
// divides S. out is [B * (S/P)^2, 3*P*P]: row = b*(S/P)^2 + py*(S/P) + px (patches in raster order),
// column = c*P*P + i*P + j, which is PyTorch's conv weight [width, 3, P, P] flattened, so
// gemm(out, conv_weight.view(width, -1)) equals the stride-P convolution.
void im2col_patches(int B, int S, int P, const float* img, float* out);

// x[r] /= ||x[r]||, the norm accumulated in double. Equals torch's x / x.norm(dim=-1) for every row
// with a nonzero norm (including rows so small that fp32 would underflow). An all-zero row stays zero
// instead of becoming NaN; we deliberately use no eps (F.normalize's max(norm, 1e-12)) so that tiny
// but nonzero rows still come out unit length like CLIP's plain division. Non-finite input propagates.
void l2_normalize_rows(int rows, int D, float* x);

// Numerically stable softmax over each row of [rows, N] in place (max subtracted, sum in double).
// A row of all -inf becomes all zeros rather than NaN.
void softmax_rows(int rows, int N, float* x);

}  // namespace cuclip::cpu
