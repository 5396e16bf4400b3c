// cuclip preprocess [-m MODEL] IMAGE... -o OUT.npy
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "base/npy.hpp"
#include "cli.hpp"
#include "inputs.hpp"

namespace cli {

int cmd_preprocess(Args& a) {
  Common c;
  std::vector<std::string> images;
  std::string out_path;
  while (!a.done()) {
    const std::string f = a.peek();
    if (f == "-h" || f == "--help") {
      std::fputs("usage: cuclip preprocess [-m MODEL] IMAGE... [--images DIR_OR_LIST] -o OUT.npy\n"
                 "Writes float32 [N, 3, S, S]: each image decoded, resized, cropped and normalized exactly as the\n"
                 "model sees it (its checkpoint's preprocessing preset). A failed image gets a stderr line and a NaN\n"
                 "slice; exit code 2 (1 when none could be processed).\n", stdout);
      return 0;
    }
    if (parse_common(a, c)) continue;
    a.next();
    if (f == "-o" || f == "--output") out_path = need_value(a, f);
    else if (f == "--images") { for (auto& p : expand_images(need_value(a, f))) images.push_back(p); }
    else if (!f.empty() && f[0] == '-' && f.size() > 1) throw UsageError{"unknown option '" + f + "'"};
    else images.push_back(f);
  }
  if (out_path.empty()) throw UsageError{"-o OUT.npy is required"};
  if (images.empty()) throw UsageError{"give at least one image"};
  cuclip_model* m = open_model(c);
  if (!m) return 1;
  const int S = cuclip_model_image_size(m);
  const size_t px = (size_t)3 * S * S;
  std::vector<float> out(images.size() * px);
  size_t failed = 0;
  Progress prog("preprocessing", images.size());
  for (size_t i = 0; i < images.size(); ++i) {
    if (cuclip_preprocess_image_file(m, images[i].c_str(), out.data() + i * px) != CUCLIP_OK) {
      std::fprintf(stderr, "cuclip preprocess: %s: %s\n", images[i].c_str(), cuclip_last_error());
      std::fill(out.begin() + (ptrdiff_t)(i * px), out.begin() + (ptrdiff_t)((i + 1) * px), NAN);
      ++failed;
    }
    prog.update(i + 1);
  }
  int rc = failed == 0 ? 0 : failed == images.size() ? 1 : 2;
  cuclip::Status s = cuclip::npy_write_f32(out_path, {(int64_t)images.size(), 3, S, S}, out.data());
  if (!s.ok()) { print_error("preprocess", s.message); rc = 1; }
  cuclip_model_free(m);
  return rc;
}

}  // namespace cli
