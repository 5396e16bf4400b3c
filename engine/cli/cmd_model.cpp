// cuclip info / cuclip verify
#include <cstdio>

#include "cli.hpp"

namespace cli {

static int model_only(Args& a, const char* cmd, const char* help, Common& c) {
  while (!a.done()) {
    if (a.peek() == "-h" || a.peek() == "--help") { std::fputs(help, stdout); return 0; }
    if (parse_common(a, c)) continue;
    if (c.model_path.empty() && a.peek()[0] != '-') { c.model_path = a.next(); continue; }
    throw UsageError{"unexpected argument '" + a.peek() + "'"};
  }
  (void)cmd;
  return -1;
}

int cmd_info(Args& a) {
  Common c;
  int r = model_only(a, "info", "usage: cuclip info [-m] [MODEL]\nPrints the model's configuration, preprocessing, tokenizer summary and tensor table as JSON.\n", c);
  if (r >= 0) return r;
  cuclip_model* m = open_model(c);
  if (!m) return 1;
  std::printf("%s\n", cuclip_model_info_json(m));
  cuclip_model_free(m);
  return 0;
}

int cmd_verify(Args& a) {
  Common c;
  int r = model_only(a, "verify", "usage: cuclip verify [-m] [MODEL]\nRecomputes every tensor's CRC32 and scans the weights for NaN/Inf. Exit 1 on any mismatch.\n", c);
  if (r >= 0) return r;
  cuclip_model* m = open_model(c);
  if (!m) return 1;
  cuclip_status s = cuclip_model_verify(m);
  if (s != CUCLIP_OK) {
    print_error("verify", cuclip_last_error());
    cuclip_model_free(m);
    return 1;
  }
  std::printf("ok: every tensor checksum matches and all weights are finite\n");
  cuclip_model_free(m);
  return 0;
}

}  // namespace cli
