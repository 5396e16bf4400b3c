// cuclip tokenize [-m MODEL] [--context-length N] [--jsonl] [TEXT ...]
#include <nlohmann/json.hpp>

#include <iostream>
#include <string>
#include <vector>

#include "cli.hpp"

namespace cli {

static const char* kHelp =
    "usage: cuclip tokenize [-m MODEL] [--context-length N] [--jsonl] [TEXT ...]\n"
    "Prints one JSON array of token ids per text, one per line: [SOT] ids [EOT], truncated to the\n"
    "context length (EOT kept last) and padded. Without TEXT arguments, reads stdin: one text per line,\n"
    "or with --jsonl one JSON string per line (so any text, newlines included). A bad line gets an\n"
    "error on stderr naming its line number; the others are still tokenized; the exit code is then 2.\n";

int cmd_tokenize(Args& a) {
  Common c;
  int ctx_len = 0;
  bool jsonl = false;
  std::vector<std::string> texts;
  while (!a.done()) {
    const std::string f = a.peek();
    if (f == "-h" || f == "--help") { std::fputs(kHelp, stdout); return 0; }
    if (parse_common(a, c)) continue;
    a.next();
    if (f == "--context-length") ctx_len = parse_int(need_value(a, f), f, 2, 4096);
    else if (f == "--jsonl") jsonl = true;
    else if (f == "--") { while (!a.done()) texts.push_back(a.next()); }
    else if (!f.empty() && f[0] == '-' && f.size() > 1) throw UsageError{"unknown option '" + f + "'"};
    else texts.push_back(f);
  }
  cuclip_model* m = open_model(c);
  if (!m) return 1;
  const int L = ctx_len > 0 ? ctx_len : cuclip_model_context_length(m);
  std::vector<int32_t> ids((size_t)L);
  int failed = 0, done = 0;
  auto emit = [&](const std::string& text, const std::string& where) {
    int n = 0;
    if (cuclip_tokenize(m, text.c_str(), L, ids.data(), L, &n) != CUCLIP_OK) {
      std::fprintf(stderr, "cuclip tokenize: %s: %s\n", where.c_str(), cuclip_last_error());
      ++failed;
      return;
    }
    std::string line = "[";
    for (int i = 0; i < n; ++i) {
      if (i) line += ',';
      line += std::to_string(ids[(size_t)i]);
    }
    std::printf("%s]\n", line.c_str());
    ++done;
  };
  if (!texts.empty()) {
    for (size_t i = 0; i < texts.size(); ++i) emit(texts[i], "argument " + std::to_string(i + 1));
  } else {
    std::string line;
    size_t lineno = 0;
    while (std::getline(std::cin, line)) {
      ++lineno;
      const std::string where = "line " + std::to_string(lineno);
      if (!jsonl) {
        emit(line, where);
        continue;
      }
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_string()) {
        std::fprintf(stderr, "cuclip tokenize: %s: not a JSON string\n", where.c_str());
        ++failed;
        continue;
      }
      emit(j.get<std::string>(), where);
    }
  }
  cuclip_model_free(m);
  (void)done;
  return failed ? 2 : 0;
}

}  // namespace cli
