#include "inputs.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cli.hpp"

namespace cli {

static bool has_image_extension(const std::string& p) {
  std::string e = std::filesystem::path(p).extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return (char)std::tolower(c); });
  for (const char* x : {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tga", ".ppm", ".pgm", ".pnm", ".webp"})
    if (e == x) return true;
  return false;
}

std::vector<std::string> expand_images(const std::string& dir_or_list) {
  std::vector<std::string> out;
  std::error_code ec;
  if (std::filesystem::is_directory(dir_or_list, ec)) {
    for (const auto& e : std::filesystem::directory_iterator(dir_or_list, ec))
      if (e.is_regular_file() && has_image_extension(e.path().string())) out.push_back(e.path().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  std::ifstream f(dir_or_list);
  if (!f) throw UsageError{"--images: cannot open '" + dir_or_list + "'"};
  std::string line;
  while (std::getline(f, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

std::vector<std::string> read_texts(const std::string& path, std::vector<std::string>* bad, std::vector<size_t>* bad_index) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw UsageError{"--texts: cannot open '" + path + "'"};
  const bool jsonl = path.size() >= 6 && path.compare(path.size() - 6, 6, ".jsonl") == 0;
  std::vector<std::string> out;
  std::string line;
  size_t lineno = 0;
  while (std::getline(f, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!jsonl) { out.push_back(line); continue; }
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_string()) {
      bad->push_back(path + ":" + std::to_string(lineno) + ": not a JSON string");
      bad_index->push_back(out.size());
      out.push_back("");
      continue;
    }
    out.push_back(j.get<std::string>());
  }
  return out;
}

}  // namespace cli
