// LayerNorm lab: y[r, :] = (x[r, :] - mean) / sqrt(var + eps) * w + b over rows of width C, x and y
// f16 (the CUDA backend's activations), w and b f32 (as the model file keeps norms), statistics in
// f32, at CLIP's shapes: rows = batch x tokens, C = 512 ... 1280. A pure bandwidth kernel: the roof
// is the device-to-device copy (read x once, write y once).
//
// Versions, side by side:
//   v1  naive: one thread per row, two passes for mean and variance and a third to write; the
//       threads of a warp read 32 different rows, so every load is a separate transaction.
//   v2  one warp per row: lanes stride across the row (coalesced), warp-shuffle reductions; still
//       three passes over global memory (the second and third mostly hit L1/L2).
//   v3  one warp per row, vectorized: 16-byte loads of 8 halves, the row held in registers between
//       the passes (one global read, one write), variance from the centred values (no E[x²]-E[x]²
//       cancellation), 16-byte stores.
//   v4  the CUDA backend's kernels/layernorm.cu (layernorm_forward), when built with it
//       (CUCLIP_LAB_ENGINE_KERNELS).
// Each version is checked against a double-precision CPU LayerNorm on sampled rows before timing.
//
// usage: cuclip_lab_layernorm [--quick] [--batch 1,8,64] [--max-ms N]
#include "common.cuh"

#if defined(CUCLIP_LAB_ENGINE_KERNELS)
#include "kernels/layernorm.hpp"
constexpr int kVersions = 4;
#else
constexpr int kVersions = 3;
#endif

namespace {

constexpr float kEps = 1e-5f;

__global__ void layernorm_v1_kernel(long rows, int C, const __half* x, const float* w, const float* b, __half* y) {
  const long r = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (r >= rows) return;
  const __half* xr = x + r * C;
  float sum = 0;
  for (int c = 0; c < C; ++c) sum += __half2float(xr[c]);
  const float mean = sum / C;
  float var = 0;
  for (int c = 0; c < C; ++c) {
    const float d = __half2float(xr[c]) - mean;
    var += d * d;
  }
  const float rstd = rsqrtf(var / C + kEps);
  for (int c = 0; c < C; ++c) y[r * C + c] = __float2half((__half2float(xr[c]) - mean) * rstd * w[c] + b[c]);
}

__device__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

constexpr int kWarpsPerBlock = 8;

__global__ void layernorm_v2_kernel(long rows, int C, const __half* x, const float* w, const float* b, __half* y) {
  const long r = blockIdx.x * (long)kWarpsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (r >= rows) return;
  const __half* xr = x + r * C;
  float sum = 0;
  for (int c = lane; c < C; c += 32) sum += __half2float(xr[c]);
  const float mean = warp_sum(sum) / C;
  float var = 0;
  for (int c = lane; c < C; c += 32) {
    const float d = __half2float(xr[c]) - mean;
    var += d * d;
  }
  const float rstd = rsqrtf(warp_sum(var) / C + kEps);
  for (int c = lane; c < C; c += 32) y[r * C + c] = __float2half((__half2float(xr[c]) - mean) * rstd * w[c] + b[c]);
}

// VEC 16-byte vectors (8 halves each) per lane: C = 256 * VEC. CLIP widths are multiples of 256.
template <int VEC>
__global__ void layernorm_v3_kernel(long rows, const __half* x, const float* w, const float* b, __half* y) {
  constexpr int C = VEC * 256;
  const long r = blockIdx.x * (long)kWarpsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (r >= rows) return;
  const uint4* xr = reinterpret_cast<const uint4*>(x + r * C);
  float v[VEC][8];
  float sum = 0;
#pragma unroll
  for (int i = 0; i < VEC; ++i) {
    const uint4 raw = xr[i * 32 + lane];
    const __half2* h = reinterpret_cast<const __half2*>(&raw);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const float2 f = __half22float2(h[j]);
      v[i][2 * j] = f.x, v[i][2 * j + 1] = f.y;
      sum += f.x + f.y;
    }
  }
  const float mean = warp_sum(sum) / C;
  float var = 0;
#pragma unroll
  for (int i = 0; i < VEC; ++i)
#pragma unroll
    for (int j = 0; j < 8; ++j) var += (v[i][j] - mean) * (v[i][j] - mean);
  const float rstd = rsqrtf(warp_sum(var) / C + kEps);
  uint4* yr = reinterpret_cast<uint4*>(y + r * C);
#pragma unroll
  for (int i = 0; i < VEC; ++i) {
    const int c0 = (i * 32 + lane) * 8;
    const float4 w0 = *reinterpret_cast<const float4*>(w + c0), w1 = *reinterpret_cast<const float4*>(w + c0 + 4);
    const float4 b0 = *reinterpret_cast<const float4*>(b + c0), b1 = *reinterpret_cast<const float4*>(b + c0 + 4);
    const float ws[8] = {w0.x, w0.y, w0.z, w0.w, w1.x, w1.y, w1.z, w1.w}, bs[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
    uint4 out;
    __half2* o = reinterpret_cast<__half2*>(&out);
#pragma unroll
    for (int j = 0; j < 4; ++j)
      o[j] = __floats2half2_rn((v[i][2 * j] - mean) * rstd * ws[2 * j] + bs[2 * j], (v[i][2 * j + 1] - mean) * rstd * ws[2 * j + 1] + bs[2 * j + 1]);
    yr[i * 32 + lane] = out;
  }
}

bool launch_v3(long rows, int C, const __half* x, const float* w, const float* b, __half* y) {
  const unsigned grid = (unsigned)lab::ceil_div(rows, (long)kWarpsPerBlock), block = kWarpsPerBlock * 32;
  switch (C) {
    case 512: layernorm_v3_kernel<2><<<grid, block>>>(rows, x, w, b, y); return true;
    case 768: layernorm_v3_kernel<3><<<grid, block>>>(rows, x, w, b, y); return true;
    case 1024: layernorm_v3_kernel<4><<<grid, block>>>(rows, x, w, b, y); return true;
    case 1280: layernorm_v3_kernel<5><<<grid, block>>>(rows, x, w, b, y); return true;
    default: return false;
  }
}

std::vector<float> reference_rows(const std::vector<float>& x_rows, const std::vector<float>& w, const std::vector<float>& b, int C,
                                  size_t n_rows) {
  std::vector<float> y(x_rows.size());
  for (size_t r = 0; r < n_rows; ++r) {
    const float* xr = &x_rows[r * C];
    double mean = 0, var = 0;
    for (int c = 0; c < C; ++c) mean += xr[c];
    mean /= C;
    for (int c = 0; c < C; ++c) var += (xr[c] - mean) * (xr[c] - mean);
    const double rstd = 1.0 / std::sqrt(var / C + kEps);
    for (int c = 0; c < C; ++c) y[r * C + c] = (float)((xr[c] - mean) * rstd * w[c] + b[c]);
  }
  return y;
}

}  // namespace

int main(int argc, char** argv) {
  const lab::LabArgs args = lab::parse_lab_args(argc, argv, "usage: cuclip_lab_layernorm [--quick] [--batch 1,8,64] [--max-ms N]\n");
  cublasHandle_t blas;
  LAB_CUBLAS(cublasCreate(&blas));
  lab::L2Flusher l2;
  const lab::Roofs roofs = lab::measure_roofs(blas, l2);
  lab::print_device_and_roofs("LayerNorm (f16 x/y, f32 weights and statistics)", roofs);
  bool all_ok = true;
  for (const lab::TowerShape& tw : lab::clip_towers()) {
    const int C = tw.width;
    // f32 gains and biases, near 1 and 0 like a trained model's.
    std::vector<float> w(C), b(C);
    for (int c = 0; c < C; ++c) w[c] = 1.0f + 0.1f * std::sin(0.37f * c), b[c] = 0.05f * std::cos(0.11f * c);
    lab::DeviceBuffer<float> wd(C), bd(C);
    wd.upload(w);
    bd.upload(b);
    bool too_slow[kVersions + 1] = {};
    for (int batch : args.batches) {
      const long rows = (long)batch * tw.tokens;
      char shape[96];
      std::snprintf(shape, sizeof shape, "%s b%d: %ld rows x %d", tw.name, batch, rows, C);
      lab::Rotation<__half> X((size_t)rows * C, lab::rotation_copies((size_t)rows * C * 2), 4, 3.0f);
      lab::DeviceBuffer<__half> Y((size_t)rows * C);
      const std::vector<long> sample = lab::sample_rows(rows, 256);
      const std::vector<float> ref = reference_rows(lab::download_rows(X.first(), C, sample), w, b, C, sample.size());
      const double bytes = 2.0 * 2.0 * rows * C + 8.0 * C, flops = 8.0 * rows * C;  // ~8 flops per element; the bound is memory
      std::string engine_error;  // v4's launcher status, when it refuses
      auto launch = [&](int ver, int rep) {
        const __half* x = X.at(rep);
        if (ver == 4) {
#if defined(CUCLIP_LAB_ENGINE_KERNELS)
          const cuclip::Status st = cuclip::kernels::layernorm_forward(cuclip::gpu::DType::f16, (int)rows, C, x, wd.p, bd.p, kEps, Y.p, 0);
          if (!st.ok()) engine_error = st.message;
#endif
        } else if (ver == 1) layernorm_v1_kernel<<<(unsigned)lab::ceil_div(rows, 128L), 128>>>(rows, C, x, wd.p, bd.p, Y.p);
        else if (ver == 2) layernorm_v2_kernel<<<(unsigned)lab::ceil_div(rows, (long)kWarpsPerBlock), kWarpsPerBlock * 32>>>(rows, C, x, wd.p, bd.p, Y.p);
        else launch_v3(rows, C, x, wd.p, bd.p, Y.p);
      };
      for (int ver = 1; ver <= kVersions; ++ver) {
        const char* vname = ver == 1 ? "v1" : ver == 2 ? "v2" : ver == 3 ? "v3" : "v4";
        if (too_slow[ver]) { lab::print_skip("layernorm", vname, shape, "over --max-ms at a smaller batch"); continue; }
        LAB_CUDA(cudaMemset(Y.p, 0xff, (size_t)rows * C * 2));  // poison: NaN in f16
        const double one = lab::probe_ms([&](int r) { launch(ver, r); });
        if (!engine_error.empty()) {
          std::printf("CHECK FAILED layernorm %s %s: the launcher refused: %s\n", vname, shape, engine_error.c_str());
          all_ok = false;
          continue;
        }
        // f16 output of values up to ~|4|: half an ulp is 2^-11 relative; 2e-3 abs + 2e-3 rel allows
        // that plus f32 statistics.
        if (!lab::check_close((std::string("layernorm ") + vname + " " + shape).c_str(), lab::download_rows(Y.p, C, sample), ref, 2e-3, 2e-3)) {
          all_ok = false;
          continue;
        }
        if (one * (lab::kRepeats + lab::kWarmup) > args.max_ms) {
          lab::print_skip("layernorm", vname, shape, "one launch x repeats > --max-ms");
          too_slow[ver] = true;
          continue;
        }
        lab::print_row("layernorm", vname, shape, lab::time_ms([&](int r) { launch(ver, r); }, l2), bytes, flops, roofs);
      }
    }
  }
  cublasDestroy(blas);
  return all_ok ? 0 : 1;
}
