// A tiny but complete .cuclip file built in memory for the format tests, and a way to rebuild a
// file around an edited header (so each rule can be broken one at a time).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model_config.hpp"

namespace cuclip_test {

cuclip::ModelConfig tiny_config();
// Writes a valid tiny model (f16 matrices, random values) to `path` and returns its bytes.
std::vector<uint8_t> write_tiny_model(const std::string& path, uint32_t seed = 1);

struct Parts {
  nlohmann::json header;
  std::vector<uint8_t> data;  // the data section
  uint32_t alignment = 256;
};
Parts split(const std::vector<uint8_t>& file);
// Reassembles a consistent file (fixed header, checksum, padding) around an edited header/data.
std::vector<uint8_t> join(const Parts& p);

}  // namespace cuclip_test
