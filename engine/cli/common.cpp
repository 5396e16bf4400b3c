#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "cli.hpp"
#include "paths.hpp"

namespace cli {

std::string need_value(Args& a, const std::string& flag) {
  if (a.done()) throw UsageError{flag + " needs a value"};
  return a.next();
}

int parse_int(const std::string& s, const std::string& flag, int lo, int hi) {
  char* end = nullptr;
  long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || v < lo || v > hi)
    throw UsageError{flag + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], not '" + s + "'"};
  return (int)v;
}

bool parse_common(Args& a, Common& c) {
  const std::string f = a.peek();
  if (f == "-m" || f == "--model") { a.next(); c.model_path = need_value(a, f); }
  else if (f == "--backend") { a.next(); c.backend = need_value(a, f); }
  else if (f == "--dtype") { a.next(); c.dtype = need_value(a, f); }
  else if (f == "--threads") { a.next(); c.threads = parse_int(need_value(a, f), f, 0, 4096); }
  else if (f == "--batch") { a.next(); c.batch = parse_int(need_value(a, f), f, 1, 65536); }
  else return false;
  return true;
}

void print_error(const char* cmd, const std::string& msg) { std::fprintf(stderr, "cuclip %s: error: %s\n", cmd, msg.c_str()); }

cuclip_model* open_model(const Common& c) {
  std::string path = c.model_path.empty() ? cuclip::find_default_model() : c.model_path;
  if (path.empty()) {
    std::fprintf(stderr, "cuclip: error: no model given and the bundled default model (shapes.cuclip) was not found; pass -m MODEL or set CUCLIP_MODEL\n");
    return nullptr;
  }
  cuclip_model* m = nullptr;
  if (cuclip_model_load(path.c_str(), cuclip_model_default_params(), &m) != CUCLIP_OK) {
    std::fprintf(stderr, "cuclip: error: %s\n", cuclip_last_error());
    return nullptr;
  }
  return m;
}

std::vector<int> parse_devices(const std::string& s, const std::string& flag) {
  std::vector<int> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = s.find(',', start);
    const std::string part = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const int d = parse_int(part, flag, 0, 1023);
    for (int seen : out)
      if (seen == d) throw UsageError{flag + ": device " + part + " is listed twice"};
    out.push_back(d);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

cuclip_context* open_context(cuclip_model* m, const Common& c, int device) {
  cuclip_context_params p = cuclip_context_default_params();
  p.device = device;
  if (c.backend == "auto") p.backend = CUCLIP_BACKEND_AUTO;
  else if (c.backend == "cpu") p.backend = CUCLIP_BACKEND_CPU;
  else if (c.backend == "cuda") p.backend = CUCLIP_BACKEND_CUDA;
  else if (c.backend == "cuda-emu") p.backend = CUCLIP_BACKEND_CUDA_EMU;
  else throw UsageError{"--backend must be auto, cpu, cuda or cuda-emu, not '" + c.backend + "'"};
  if (c.dtype == "auto") p.dtype = CUCLIP_DTYPE_AUTO;
  else if (c.dtype == "f32") p.dtype = CUCLIP_DTYPE_F32;
  else if (c.dtype == "f16") p.dtype = CUCLIP_DTYPE_F16;
  else if (c.dtype == "bf16") p.dtype = CUCLIP_DTYPE_BF16;
  else throw UsageError{"--dtype must be auto, f32, f16 or bf16, not '" + c.dtype + "'"};
  p.n_threads = c.threads;
  p.max_batch = c.batch;
  cuclip_context* ctx = nullptr;
  if (cuclip_context_create(m, p, &ctx) != CUCLIP_OK) {
    std::fprintf(stderr, "cuclip: error: %s\n", cuclip_last_error());
    return nullptr;
  }
  return ctx;
}

std::string json_string(const std::string& s) {
  std::string o = "\"";
  for (unsigned char ch : s) {
    switch (ch) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\r': o += "\\r"; break;
      case '\t': o += "\\t"; break;
      default:
        if (ch < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", ch);
          o += b;
        } else {
          o += (char)ch;
        }
    }
  }
  return o + "\"";
}

Progress::Progress(const char* what, size_t total) : what_(what), total_(total), on_(total >= 64 && isatty(2)) {}

void Progress::update(size_t done) {
  if (!on_) return;
  const int width = 30, filled = (int)(width * done / (total_ ? total_ : 1));
  std::fprintf(stderr, "\r%s [%.*s%*s] %zu/%zu", what_, filled, "##############################", width - filled, "", done, total_);
  std::fflush(stderr);
}

Progress::~Progress() {
  if (on_) std::fprintf(stderr, "\n");
}

}  // namespace cli
