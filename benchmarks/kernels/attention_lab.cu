// Attention lab: out = softmax(q k^T / sqrt(HD) [+ causal mask]) v on CLIP's packed qkv activations
// ([tokens, 3C] f16, heads side by side), f32 softmax statistics, at the shapes of the standard
// towers: vision (non-causal, every sequence the same length) and text (causal) both padded to 77
// ("text77") and at real caption lengths packed back to back ("caption": 6..16 tokens, ~11 on average).
//
// Versions, side by side:
//   v1  naive: one warp per (query row, head); scores of the row in shared memory, softmax with warp
//       reductions, then each lane sums p * v for its head dims. CUDA cores, K/V re-read from L2/HBM
//       for every query row.
//   v2  unfused cuBLAS, what a framework without a fused kernel runs (PyTorch's "math" SDPA backend):
//       per head, S = Q K^T * scale (strided-batched GEMM, f16 S), a row softmax kernel, out = P V
//       (strided-batched GEMM writing the [tokens, C] layout). Equal lengths only (skipped for packed
//       captions: it would need padding).
//   v3  the CUDA backend's kernels/attention.cu (attention_forward: FlashAttention-2 style on
//       mma.sync), when built with it (CUCLIP_LAB_ENGINE_KERNELS).
// Each version is checked against a double-precision CPU attention on sampled rows of the first and
// last sequence (every head) before it is timed.
//
// Bytes = q, k, v read once + out written once; FLOPs = 4 HD per (query, visible key) pair and head,
// i.e. only the useful work (a causal row t sees t + 1 keys).
//
// usage: cuclip_lab_attention [--quick] [--batch 1,8,64] [--max-ms N]
#include "common.cuh"

#if defined(CUCLIP_LAB_ENGINE_KERNELS)
#include "kernels/attention.hpp"
constexpr int kVersions = 3;
#else
constexpr int kVersions = 2;
#endif

namespace {

// ---- v1: naive ----------------------------------------------------------------------------------
constexpr int kMaxT = 1024;  // the naive kernel keeps a row's scores in static shared memory

__global__ void attention_v1_kernel(const __half* qkv, __half* out, const int* cu_seqlens, int NH, int HD, int causal, float scale) {
  __shared__ float s[kMaxT];
  const int t = blockIdx.x, h = blockIdx.y, b = blockIdx.z, lane = threadIdx.x;
  const int start = cu_seqlens[b], len = cu_seqlens[b + 1] - start;
  if (t >= len) return;
  const int C = NH * HD, keys = causal ? t + 1 : len;
  const size_t ld = 3 * (size_t)C;
  const __half* q = qkv + (start + t) * ld + (size_t)h * HD;
  float mx = -INFINITY;
  for (int j = lane; j < keys; j += 32) {
    const __half* k = qkv + (start + j) * ld + C + (size_t)h * HD;
    float dot = 0;
    for (int d = 0; d < HD; ++d) dot += __half2float(q[d]) * __half2float(k[d]);
    s[j] = dot * scale;
    mx = fmaxf(mx, s[j]);
  }
  for (int o = 16; o > 0; o /= 2) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
  float sum = 0;
  for (int j = lane; j < keys; j += 32) {
    s[j] = expf(s[j] - mx);
    sum += s[j];
  }
  for (int o = 16; o > 0; o /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  __syncwarp();
  for (int d = lane; d < HD; d += 32) {
    float acc = 0;
    for (int j = 0; j < keys; ++j) acc += s[j] * __half2float(qkv[(start + j) * ld + 2 * C + (size_t)h * HD + d]);
    out[(start + t) * (size_t)C + (size_t)h * HD + d] = __float2half(acc / sum);
  }
}

// ---- v2: unfused cuBLAS --------------------------------------------------------------------------
// In-place softmax over rows of n f16 scores, one warp per row, f32 math.
__global__ void softmax_rows_kernel(__half* s, long rows, int n) {
  const long r = blockIdx.x * (long)(blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (r >= rows) return;
  __half* row = s + r * n;
  float mx = -INFINITY;
  for (int j = lane; j < n; j += 32) mx = fmaxf(mx, __half2float(row[j]));
  for (int o = 16; o > 0; o /= 2) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
  float sum = 0;
  for (int j = lane; j < n; j += 32) sum += expf(__half2float(row[j]) - mx);
  for (int o = 16; o > 0; o /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  const float inv = 1.0f / sum;
  for (int j = lane; j < n; j += 32) row[j] = __float2half(expf(__half2float(row[j]) - mx) * inv);
}

// Equal-length non-causal attention of B sequences of T tokens: per head two strided-batched GEMMs
// (batch = B) and a softmax. s holds one head's scores for all sequences: [B, T, T] f16.
void attention_v2(cublasHandle_t h, const __half* qkv, __half* out, __half* s, int B, int T, int NH, int HD, float scale) {
  const int C = NH * HD, ld = 3 * C;
  const long long seq_stride = (long long)T * ld, s_stride = (long long)T * T, out_stride = (long long)T * C;
  const float one = 1, zero = 0;
  for (int head = 0; head < NH; ++head) {
    const __half* q = qkv + (size_t)head * HD;
    const __half* k = q + C;
    const __half* v = q + 2 * C;
    // Row-major S = Q K^T is column-major S^T = K Q^T: op(A) = K^T-of-column-major-K, op(B) = Q^T.
    LAB_CUBLAS(cublasGemmStridedBatchedEx(h, CUBLAS_OP_T, CUBLAS_OP_N, T, T, HD, &scale, k, CUDA_R_16F, ld, seq_stride, q, CUDA_R_16F,
                                          ld, seq_stride, &zero, s, CUDA_R_16F, T, s_stride, B, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    const long rows = (long)B * T;
    softmax_rows_kernel<<<(unsigned)lab::ceil_div(rows, 8L), 256>>>(s, rows, T);
    // Row-major O = P V is column-major O^T = V^T P^T, written with ldc = C into the head's columns.
    LAB_CUBLAS(cublasGemmStridedBatchedEx(h, CUBLAS_OP_N, CUBLAS_OP_N, HD, T, T, &one, v, CUDA_R_16F, ld, seq_stride, s, CUDA_R_16F, T,
                                          s_stride, &zero, out + (size_t)head * HD, CUDA_R_16F, C, out_stride, B, CUBLAS_COMPUTE_32F,
                                          CUBLAS_GEMM_DEFAULT));
  }
}

// ---- reference -----------------------------------------------------------------------------------
// Double-precision attention of the given rows of one sequence (all heads): [rows, C].
std::vector<float> reference_rows(const std::vector<float>& qkv_seq, int T, int NH, int HD, bool causal, const std::vector<long>& rows) {
  const int C = NH * HD;
  std::vector<float> out(rows.size() * C);
  std::vector<double> p(T);
  for (size_t ri = 0; ri < rows.size(); ++ri) {
    const long t = rows[ri];
    const int keys = causal ? (int)t + 1 : T;
    for (int h = 0; h < NH; ++h) {
      double mx = -INFINITY, sum = 0;
      for (int j = 0; j < keys; ++j) {
        double dot = 0;
        for (int d = 0; d < HD; ++d) dot += (double)qkv_seq[t * 3 * C + h * HD + d] * qkv_seq[(size_t)j * 3 * C + C + h * HD + d];
        p[j] = dot / std::sqrt((double)HD);
        mx = std::max(mx, p[j]);
      }
      for (int j = 0; j < keys; ++j) sum += (p[j] = std::exp(p[j] - mx));
      for (int d = 0; d < HD; ++d) {
        double acc = 0;
        for (int j = 0; j < keys; ++j) acc += p[j] * qkv_seq[(size_t)j * 3 * C + 2 * C + h * HD + d];
        out[ri * C + h * HD + d] = (float)(acc / sum);
      }
    }
  }
  return out;
}

struct AttnShape {
  const char* name;
  int tokens, heads, head_dim;
  bool causal;
  bool captions;  // packed real caption lengths instead of `tokens` each
};

const std::vector<AttnShape>& attention_shapes() {
  static const std::vector<AttnShape> s = {
      {"B/32 vision", 50, 12, 64, false, false},   {"B/16 vision", 197, 12, 64, false, false},
      {"L/14 vision", 257, 16, 64, false, false},  {"L/14@336 vision", 577, 16, 64, false, false},
      {"H/14 vision", 257, 16, 80, false, false},  {"B text77", 77, 8, 64, true, false},
      {"B caption", 77, 8, 64, true, true},        {"L text77", 77, 12, 64, true, false},
      {"L caption", 77, 12, 64, true, true},       {"H caption", 77, 16, 64, true, true}};
  return s;
}

// Caption i's token count (SOT + words + EOT): 6..16, ~11 on average, reproducible.
int caption_length(int i) { return 6 + (int)((i * 2654435761u) >> 16) % 11; }

}  // namespace

int main(int argc, char** argv) {
  const lab::LabArgs args = lab::parse_lab_args(argc, argv, "usage: cuclip_lab_attention [--quick] [--batch 1,8,64] [--max-ms N]\n");
  cublasHandle_t blas;
  LAB_CUBLAS(cublasCreate(&blas));
  lab::L2Flusher l2;
  const lab::Roofs roofs = lab::measure_roofs(blas, l2);
  lab::print_device_and_roofs("attention (f16 qkv/out, f32 softmax)", roofs);

  bool all_ok = true;
  for (const AttnShape& sh : attention_shapes()) {
    const std::string nm = sh.name;
    if (args.quick && nm != "B/32 vision" && nm != "L/14 vision" && nm != "H/14 vision" && nm != "B caption") continue;
    const int NH = sh.heads, HD = sh.head_dim, C = NH * HD;
    const float scale = 1.0f / std::sqrt((float)HD);
    bool too_slow[kVersions + 1] = {};
    for (int batch : args.batches) {
      std::vector<int> lens(batch), cu(batch + 1, 0);
      for (int b = 0; b < batch; ++b) lens[b] = sh.captions ? caption_length(b) : sh.tokens;
      for (int b = 0; b < batch; ++b) cu[b + 1] = cu[b] + lens[b];
      const long total = cu[batch];
      const int max_len = *std::max_element(lens.begin(), lens.end());
      char shape[96];
      std::snprintf(shape, sizeof shape, "%s b%d: %ld tok, %dx%d%s", sh.name, batch, total, NH, HD, sh.causal ? " causal" : "");

      const int copies = lab::rotation_copies((size_t)total * 3 * C * 2);
      lab::Rotation<__half> qkv((size_t)total * 3 * C, copies, 11, 1.0f);
      lab::DeviceBuffer<__half> out((size_t)total * C);
      lab::DeviceBuffer<int> cu_d(batch + 1);
      cu_d.upload(cu);
      const bool v2_possible = !sh.captions && !sh.causal;
      const size_t s_bytes = (size_t)batch * sh.tokens * sh.tokens * 2;
      lab::DeviceBuffer<__half> s_buf(v2_possible && s_bytes <= (size_t(8) << 30) ? (size_t)batch * sh.tokens * sh.tokens : 0);

      // Reference: sampled rows of the first and the last sequence.
      struct Sampled {
        long row0;
        std::vector<long> rows;
        std::vector<float> ref;
      };
      std::vector<Sampled> samples;
      std::vector<int> sampled_seqs = {0};
      if (batch > 1) sampled_seqs.push_back(batch - 1);
      for (int b : sampled_seqs) {
        std::vector<long> seq_rows(lens[b]);
        for (int i = 0; i < lens[b]; ++i) seq_rows[i] = cu[b] + i;
        const std::vector<float> qkv_seq = lab::download_rows(qkv.first(), 3L * C, seq_rows);
        Sampled sm{cu[b], lab::sample_rows(lens[b], 24), {}};
        sm.ref = reference_rows(qkv_seq, lens[b], NH, HD, sh.causal, sm.rows);
        samples.push_back(std::move(sm));
      }

      double pairs = 0;  // (query, visible key) pairs over all sequences
      for (int l : lens) pairs += sh.causal ? 0.5 * l * (l + 1.0) : (double)l * l;
      const double flops = 4.0 * HD * NH * pairs, bytes = 2.0 * total * 4.0 * C;

      std::string engine_error;
      auto launch = [&](int ver, int rep) {
        const __half* q = qkv.at(rep);
        if (ver == 1) {
          attention_v1_kernel<<<dim3(max_len, NH, batch), 32>>>(q, out.p, cu_d.p, NH, HD, sh.causal ? 1 : 0, scale);
        } else if (ver == 2) {
          attention_v2(blas, q, out.p, s_buf.p, batch, sh.tokens, NH, HD, scale);
        } else {
#if defined(CUCLIP_LAB_ENGINE_KERNELS)
          const cuclip::Status st = cuclip::kernels::attention_forward(cuclip::gpu::DType::f16, q, out.p, cu_d.p, batch, max_len, NH, HD,
                                                                       sh.causal, 0);
          if (!st.ok()) engine_error = st.message;
#endif
        }
      };
      for (int ver = 1; ver <= kVersions; ++ver) {
        const char* vname = ver == 1 ? "v1" : ver == 2 ? "v2" : "v3";
        if (ver == 1 && max_len > kMaxT) { lab::print_skip("attention", vname, shape, "sequence longer than the naive kernel's buffer"); continue; }
        if (ver == 2 && !v2_possible) { lab::print_skip("attention", vname, shape, "unfused path: equal-length non-causal only"); continue; }
        if (ver == 2 && s_buf.n == 0) { lab::print_skip("attention", vname, shape, "score buffer over 8 GB"); continue; }
        if (too_slow[ver]) { lab::print_skip("attention", vname, shape, "over --max-ms at a smaller batch"); continue; }
        LAB_CUDA(cudaMemset(out.p, 0xff, (size_t)total * C * 2));  // poison: NaN in f16
        const double one = lab::probe_ms([&](int r) { launch(ver, r); });
        if (!engine_error.empty()) {
          std::printf("CHECK FAILED attention %s %s: the launcher refused: %s\n", vname, shape, engine_error.c_str());
          all_ok = false;
          continue;
        }
        // f16 output (half an ulp = 2^-11 relative) and P rounded to f16 before P V (moves out by
        // <= 2 * 2^-11 * max|v| = 1e-3 with |v| <= 1); v2 also rounds the scores to f16. 3e-3 covers it.
        bool ok = true;
        for (const Sampled& sm : samples) {
          std::vector<long> abs_rows;
          for (long r : sm.rows) abs_rows.push_back(sm.row0 + r);
          ok = ok && lab::check_close((std::string("attention ") + vname + " " + shape).c_str(), lab::download_rows(out.p, C, abs_rows),
                                      sm.ref, 3e-3, 3e-3);
        }
        if (!ok) {
          all_ok = false;
          continue;
        }
        if (one * (lab::kRepeats + lab::kWarmup) > args.max_ms) {
          char why[96];
          std::snprintf(why, sizeof why, "one launch %.1f ms x %d repeats > --max-ms %.0f", one, lab::kRepeats, args.max_ms);
          lab::print_skip("attention", vname, shape, why);
          too_slow[ver] = true;
          continue;
        }
        const double ms = lab::time_ms([&](int r) { launch(ver, r); }, l2);
        lab::print_row("attention", vname, shape, ms, bytes, flops, roofs);
      }
    }
  }
  cublasDestroy(blas);
  return all_ok ? 0 : 1;
}
