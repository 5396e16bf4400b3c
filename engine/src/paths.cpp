#include "paths.hpp"

#include <unistd.h>

#include <climits>
#include <cstdlib>

#include "base/file.hpp"

namespace cuclip {

std::string executable_dir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  std::string p(buf, (size_t)n);
  size_t slash = p.find_last_of('/');
  return slash == std::string::npos ? "" : p.substr(0, slash);
}

static std::vector<std::string> data_dirs() {
  std::vector<std::string> d;
  if (const char* e = std::getenv("CUCLIP_DATA_DIR"); e && *e) d.push_back(e);
  const std::string exe = executable_dir();
  if (!exe.empty()) {
    d.push_back(exe);
    d.push_back(exe + "/../share/cuclip");
  }
  d.push_back(CUCLIP_INSTALL_DATADIR);
  d.push_back(CUCLIP_SOURCE_TREE "/tokenizer/data");
  d.push_back(CUCLIP_SOURCE_TREE "/engine/data");
  return d;
}

std::string find_data_file(const std::string& name) {
  auto dirs = data_dirs();
  for (const auto& dir : dirs)
    if (file_exists(path_join(dir, name))) return path_join(dir, name);
  return path_join(dirs.front(), name);
}

std::string find_default_model() {
  const char* kName = "shapes.cuclip";
  if (const char* e = std::getenv("CUCLIP_MODEL"); e && *e) return e;
  std::vector<std::string> c;
  const std::string exe = executable_dir();
  if (!exe.empty()) {
    c.push_back(exe + "/" + kName);
    c.push_back(exe + "/models/" + kName);
    c.push_back(exe + "/../share/cuclip/models/" + kName);
  }
  c.push_back(std::string(CUCLIP_INSTALL_DATADIR) + "/models/" + kName);
  c.push_back(std::string(CUCLIP_SOURCE_TREE) + "/models/" + kName);
  for (const auto& p : c)
    if (file_exists(p)) return p;
  return "";
}

}  // namespace cuclip
