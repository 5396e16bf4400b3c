// The reference fixtures of tests/data (see tests/reference/README.md), converted once per test
// process with the real converter into a temporary directory.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model_config.hpp"

namespace cuclip_test {

extern const std::vector<std::string> kFixtures;  // directory names under tests/data/models

// Converts fixture `name` with --dtype `dtype` (cached per process) and returns the .cuclip path.
std::string converted_fixture(const std::string& name, cuclip::DType dtype = cuclip::DType::F32);
std::string temp_dir();  // a per-process scratch directory, removed at exit
nlohmann::json read_json_file(const std::string& path);

}  // namespace cuclip_test
