// The .cuclip flat model file: reading with full validation (every rule of docs/format.md), and
// writing (used by cuclip-convert). A file is a 48-byte fixed header, a JSON header, padding,
// then tensor data aligned so it can be mmapped and copied to a GPU without repacking.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/file.hpp"
#include "base/status.hpp"
#include "model_config.hpp"

namespace cuclip {

constexpr char kMagic[8] = {'C', 'U', 'C', 'L', 'I', 'P', 'M', 'F'};
constexpr uint32_t kFormatVersion = 1;
constexpr uint64_t kFixedHeaderBytes = 48;
constexpr uint32_t kMinAlignment = 256;
constexpr uint32_t kMaxAlignment = 1u << 20;
constexpr int kMaxRank = 4;
constexpr int64_t kMaxDim = int64_t(1) << 31;

struct LoadLimits {
  uint64_t max_header_bytes = 256ull << 20;  // the standard CLIP tokenizer takes ~2 MB of it
  uint64_t max_tensor_count = 65536;
};

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t offset = 0;  // relative to the data section
  uint64_t bytes = 0;
  uint32_t crc32 = 0;
  const uint8_t* data = nullptr;  // into the mapping
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

class ModelFile {
 public:
  // Maps and validates a file. Errors: CUCLIP_ERR_IO, _BAD_MAGIC, _UNSUPPORTED_VERSION,
  // _INVALID_MODEL, _LIMIT_EXCEEDED — the message names the field or tensor.
  static Status open(const std::string& path, const LoadLimits& limits, std::unique_ptr<ModelFile>* out);
  // Validates a file image held in memory (the caller keeps `data` alive while the ModelFile lives).
  static Status parse(const uint8_t* data, uint64_t size, const LoadLimits& limits, std::unique_ptr<ModelFile>* out);

  const ModelConfig& config() const { return config_; }
  const PreprocessConfig& preprocess() const { return preprocess_; }
  const TokenizerConfig& tokenizer() const { return tokenizer_; }
  const std::vector<std::string>& templates() const { return templates_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find(const std::string& name) const;
  // The header JSON with the vocab and merges replaced by their counts (for `cuclip info`).
  nlohmann::json info_json() const;
  uint64_t file_size() const { return size_; }
  DType file_dtype() const { return file_dtype_; }

  // Recomputes every tensor's CRC32 and scans float data for NaN/Inf. Returns CUCLIP_ERR_CHECKSUM
  // (or CUCLIP_ERR_INVALID_MODEL for non-finite weights) naming every failing tensor.
  Status verify() const;
  // Drops the resident pages of a tensor's data (see MappedFile::release); no-op for parse().
  void release(const TensorInfo& t) const { map_.release(t.data, t.bytes); }

 private:
  MappedFile map_;
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  nlohmann::json header_;
  ModelConfig config_;
  PreprocessConfig preprocess_;
  TokenizerConfig tokenizer_;
  std::vector<std::string> templates_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> index_;
  DType file_dtype_ = DType::F32;
};

// Writes a model file all-or-nothing. Tensor data is produced by callbacks, called twice per
// tensor (once for the checksum that goes into the header, once to write), so that a large model
// never needs to be held in memory.
class ModelWriter {
 public:
  using Fill = std::function<Status(uint8_t* dst, uint64_t bytes)>;
  ModelConfig config;
  PreprocessConfig preprocess;
  TokenizerConfig tokenizer;
  std::vector<std::string> templates;
  nlohmann::json source;  // provenance: layout, source files, converter version
  DType file_dtype = DType::F16;

  void add_tensor(std::string name, DType dtype, std::vector<int64_t> shape, Fill fill);
  // Checks the tensor set against the config (the same rules the loader applies), then writes.
  Status write(const std::string& path, uint32_t alignment = kMinAlignment);

 private:
  struct Pending {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    Fill fill;
  };
  std::vector<Pending> pending_;
};

// Checks a tensor table against the config: every expected tensor present with its exact shape,
// no unknown names. Shared by the loader and the writer.
Status check_tensor_set(const ModelConfig& config, const std::vector<TensorInfo>& tensors);

}  // namespace cuclip
