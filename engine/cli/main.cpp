// cuclip: command-line front end of the cuclip library.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cli.hpp"

static const char* kUsage =
    "usage: cuclip <command> [options]\n"
    "commands:\n"
    "  classify    zero-shot classify images among labels\n"
    "  embed       write L2-normalized embeddings of texts and images (.npy or .jsonl)\n"
    "  similarity  logits between images and texts (JSON)\n"
    "  tokenize    print token ids of texts\n"
    "  preprocess  write images as the model sees them (.npy)\n"
    "  info        print a model's configuration (JSON)\n"
    "  verify      check every tensor checksum of a model file\n"
    "  bench       images/s, texts/s, latency and memory on standard shapes or a model\n"
    "Every command takes -m MODEL (default: the bundled shapes model) and --help.\n";

// The library's warnings and errors (e.g. a GPU forward that could not be captured into a CUDA
// graph and runs eagerly) on stderr; info messages too with CUCLIP_VERBOSE=1 (e.g. the per-forward
// times of CUCLIP_GPU_TIMING=1); debug messages are dropped.
static void log_to_stderr(cuclip_log_level level, const char* message, void*) {
  static const bool verbose = [] {
    const char* v = std::getenv("CUCLIP_VERBOSE");
    return v && !std::strcmp(v, "1");
  }();
  if (level <= CUCLIP_LOG_WARN || (verbose && level == CUCLIP_LOG_INFO))
    std::fprintf(stderr, "cuclip: %s: %s\n", level == CUCLIP_LOG_ERROR ? "error" : level == CUCLIP_LOG_WARN ? "warning" : "info", message);
}

int main(int argc, char** argv) {
  cuclip_set_log_callback(log_to_stderr, nullptr);
  if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 1 : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::printf("cuclip %s\n", cuclip_version());
    return 0;
  }
  cli::Args a;
  for (int i = 2; i < argc; ++i) a.v.push_back(argv[i]);
  const std::string cmd = argv[1];
  try {
    if (cmd == "info") return cli::cmd_info(a);
    if (cmd == "verify") return cli::cmd_verify(a);
    if (cmd == "tokenize") return cli::cmd_tokenize(a);
    if (cmd == "preprocess") return cli::cmd_preprocess(a);
    if (cmd == "embed") return cli::cmd_embed(a);
    if (cmd == "classify") return cli::cmd_classify(a);
    if (cmd == "similarity") return cli::cmd_similarity(a);
    if (cmd == "bench") return cli::cmd_bench(a);
  } catch (const cli::UsageError& e) {
    std::fprintf(stderr, "cuclip %s: %s (see cuclip %s --help)\n", cmd.c_str(), e.msg.c_str(), cmd.c_str());
    return 1;
  }
  std::fprintf(stderr, "cuclip: unknown command '%s'\n%s", cmd.c_str(), kUsage);
  return 1;
}
