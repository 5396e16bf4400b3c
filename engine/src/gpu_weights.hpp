// A model's weights on the device for the GPU backend (included by gpu_backend.cpp, so compiled once
// per build like it): GEMM matrices and the token embedding in the compute dtype, everything added to
// activations in f32 (model_config.hpp's kept-f32 set), and the GEMM biases once more in the compute
// dtype for cuBLASLt's BIAS epilogue, which takes C's type. One copy per (model, build, dtype),
// owned by the Model (Model::backend_state) and shared by every context.
#pragma once
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/half.hpp"
#include "kernels/gpu.hpp"
#include "model.hpp"

namespace cuclip {
// Internal linkage: the emulated and the CUDA build of this code may be linked into one binary.
namespace {

inline DType to_file_dtype(gpu::DType d) { return d == gpu::DType::f32 ? DType::F32 : d == gpu::DType::f16 ? DType::F16 : DType::BF16; }

bool is_gemm_bias(const std::string& name) {
  for (const char* s : {"attn.qkv.bias", "attn.out.bias", "mlp.fc1.bias", "mlp.fc2.bias"})
    if (name.size() > std::strlen(s) && name.compare(name.size() - std::strlen(s), std::string::npos, s) == 0) return true;
  return false;
}

// The tensor's values in dtype `to`, as bytes ready for upload (rounded to nearest even).
std::vector<uint8_t> converted(const TensorInfo& t, DType to) {
  const size_t n = (size_t)t.numel();
  std::vector<uint8_t> out(n * dtype_size(to));
  for (size_t i = 0; i < n; ++i) {
    float v;
    if (t.dtype == DType::F32) {
      std::memcpy(&v, t.data + 4 * i, 4);
    } else {
      uint16_t h;
      std::memcpy(&h, t.data + 2 * i, 2);
      v = t.dtype == DType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
    }
    if (to == DType::F32) {
      std::memcpy(out.data() + 4 * i, &v, 4);
    } else {
      const uint16_t h = to == DType::F16 ? f32_to_f16(v) : f32_to_bf16(v);
      std::memcpy(out.data() + 2 * i, &h, 2);
    }
  }
  return out;
}

struct DeviceWeights final : Model::BackendState {
  std::unordered_map<std::string, const void*> by_name;
  std::unordered_map<const void*, const void*> bias_in_dtype;  // f32 bias -> compute-dtype copy
  std::vector<void*> allocations;
  ~DeviceWeights() override {
    for (void* p : allocations) (void)gpu::device_free(p);
  }

  Status upload(const void* host, size_t bytes, gpu::Stream stream, const void** dev) {
    void* p = nullptr;
    CUCLIP_TRY(gpu::device_alloc(&p, bytes));
    allocations.push_back(p);
    CUCLIP_TRY(gpu::memcpy_h2d(p, host, bytes, stream));
    CUCLIP_TRY(gpu::stream_synchronize(stream));  // the host copy is a temporary
    *dev = p;
    return Status::Ok();
  }

  Status load(const Model& m, gpu::DType dt, gpu::Stream stream) {
    const DType compute = to_file_dtype(dt);
    for (const TensorSpec& spec : expected_tensors(m.config())) {
      const TensorInfo* t = m.file().find(spec.name);
      if (!t) return Err(CUCLIP_ERR_INVALID_MODEL, "tensor '" + spec.name + "' is missing");
      const DType to = tensor_is_kept_f32(spec.name, spec.shape.size()) ? DType::F32 : compute;
      const void* dev = nullptr;
      if (t->dtype == to) {
        CUCLIP_TRY(upload(t->data, t->bytes, stream, &dev));
      } else {
        const std::vector<uint8_t> v = converted(*t, to);
        CUCLIP_TRY(upload(v.data(), v.size(), stream, &dev));
      }
      by_name[spec.name] = dev;
      if (is_gemm_bias(spec.name)) {
        const void* in_dt = dev;
        if (compute != DType::F32) {
          const std::vector<uint8_t> v = converted(*t, compute);
          CUCLIP_TRY(upload(v.data(), v.size(), stream, &in_dt));
        }
        bias_in_dtype[dev] = in_dt;
      }
    }
    return Status::Ok();
  }
};

}  // namespace
}  // namespace cuclip
