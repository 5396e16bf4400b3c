// A validating reader for safetensors files (and sharded checkpoints with an index.json), as the
// reference Rust implementation validates them: u64 little-endian header length capped at 100 MB,
// a JSON object of {name: {dtype, shape, data_offsets: [begin, end)}} plus optional __metadata__,
// byte counts equal to shape x dtype (overflow-checked), offsets tiling the data buffer exactly.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/file.hpp"
#include "base/status.hpp"

namespace cuclip::convert {

enum class StDType { F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL, Other };

struct StTensor {
  std::string name;
  std::string dtype_name;  // as written in the file ("F32", ...)
  StDType dtype = StDType::Other;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  uint64_t bytes = 0;
  std::string file;  // the file it came from (for messages)
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

struct SafetensorsLimits {
  uint64_t max_header_bytes = 100ull << 20;
  uint64_t max_tensors = 1u << 20;
};

// One or more mapped safetensors files seen as one name -> tensor table.
class Checkpoint {
 public:
  // Opens a single file.
  Status add_file(const std::string& path, const SafetensorsLimits& limits = {});
  // Validates an in-memory safetensors image (kept alive by the caller); `label` names it in messages.
  Status add_buffer(const uint8_t* data, uint64_t size, const std::string& label, const SafetensorsLimits& limits = {});
  // Opens the shards listed by a model.safetensors.index.json; every tensor must be in the shard the
  // index names, and every shard tensor must be listed.
  Status add_sharded(const std::string& index_path, const SafetensorsLimits& limits = {});

  const StTensor* find(const std::string& name) const;
  const std::map<std::string, StTensor>& tensors() const { return tensors_; }

 private:
  std::vector<std::unique_ptr<MappedFile>> maps_;
  std::map<std::string, StTensor> tensors_;
};

}  // namespace cuclip::convert
