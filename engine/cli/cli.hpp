// Shared pieces of the `cuclip` command-line tool: argument scanning, model/context opening,
// JSON and error output. Exit codes: 0 ok, 1 nothing could be produced / usage error,
// 2 some items failed (their rows are NaN and each has a stderr line naming it).
#pragma once
#include <cstdio>
#include <string>
#include <vector>

#include "cuclip.h"

namespace cli {

struct Args {
  std::vector<std::string> v;
  size_t i = 0;
  bool done() const { return i >= v.size(); }
  const std::string& peek() const { return v[i]; }
  std::string next() { return v[i++]; }
};

// Thrown for usage errors; main prints it with the subcommand's usage and exits 1.
struct UsageError {
  std::string msg;
};

std::string need_value(Args& a, const std::string& flag);
int parse_int(const std::string& s, const std::string& flag, int lo, int hi);

struct Common {
  std::string model_path;  // -m
  std::string backend = "auto";
  std::string dtype = "auto";
  int threads = 0;
  int batch = 32;
};
// Consumes -m/--model, --backend, --dtype, --threads, --batch if a[i] is one of them.
bool parse_common(Args& a, Common& c);

// Opens the model (-m or the bundled default). Prints the error and returns null on failure.
cuclip_model* open_model(const Common& c);
cuclip_context* open_context(cuclip_model* m, const Common& c, int device = 0);
// "0,1,3" -> {0, 1, 3} (distinct device indices); throws UsageError naming the flag.
std::vector<int> parse_devices(const std::string& s, const std::string& flag);

std::string json_string(const std::string& s);
void print_error(const char* cmd, const std::string& msg);

// A progress bar on stderr, only when stderr is a terminal and there are many items.
class Progress {
 public:
  Progress(const char* what, size_t total);
  void update(size_t done);
  ~Progress();

 private:
  const char* what_;
  size_t total_;
  bool on_;
};

int cmd_info(Args& a);
int cmd_verify(Args& a);
int cmd_tokenize(Args& a);
int cmd_preprocess(Args& a);
int cmd_embed(Args& a);
int cmd_classify(Args& a);
int cmd_similarity(Args& a);
int cmd_bench(Args& a);

}  // namespace cli
