// cuclip classify IMAGE... (--labels "a,b,c" | --labels-file F) [--templates openai-imagenet|none|FILE] [--top-k K]
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "inputs.hpp"

namespace cli {

static const char* kHelp =
    "usage: cuclip classify [-m MODEL] IMAGE... (--labels \"a,b,c\" | --labels-file F)\n"
    "                       [--templates openai-imagenet|none|FILE] [--top-k K] [--images DIR_OR_LIST]\n"
    "Zero-shot classification: prints one JSON line per image, {\"image\": PATH, \"labels\": [{\"label\": L,\n"
    "\"prob\": P}, ...]} sorted by probability. Without --templates the model's own default templates\n"
    "apply (the bundled shapes model: the labels as they are; converted CLIP checkpoints: OpenAI's 80\n"
    "ImageNet templates). A failed image gets a stderr line and {\"image\": PATH, \"error\": ...}; exit 2.\n";

static std::vector<std::string> split_labels(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t c = s.find(',', start);
    std::string l = s.substr(start, c == std::string::npos ? std::string::npos : c - start);
    size_t b = l.find_first_not_of(" \t"), e = l.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(l.substr(b, e - b + 1));
    if (c == std::string::npos) break;
    start = c + 1;
  }
  return out;
}

static std::vector<std::string> read_lines(const std::string& path, const char* flag) {
  std::ifstream f(path);
  if (!f) throw UsageError{std::string(flag) + ": cannot open '" + path + "'"};
  std::vector<std::string> out;
  std::string line;
  while (std::getline(f, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

int cmd_classify(Args& a) {
  Common c;
  std::vector<std::string> images, labels, templates;
  std::string tmpl_choice;
  int top_k = 0;
  while (!a.done()) {
    const std::string f = a.peek();
    if (f == "-h" || f == "--help") { std::fputs(kHelp, stdout); return 0; }
    if (parse_common(a, c)) continue;
    a.next();
    if (f == "--labels") labels = split_labels(need_value(a, f));
    else if (f == "--labels-file") labels = read_lines(need_value(a, f), "--labels-file");
    else if (f == "--templates") tmpl_choice = need_value(a, f);
    else if (f == "--top-k") top_k = parse_int(need_value(a, f), f, 1, 1 << 20);
    else if (f == "--images") { for (auto& p : expand_images(need_value(a, f))) images.push_back(p); }
    else if (f == "--image") images.push_back(need_value(a, f));
    else if (!f.empty() && f[0] == '-' && f.size() > 1) throw UsageError{"unknown option '" + f + "'"};
    else images.push_back(f);
  }
  if (labels.empty()) throw UsageError{"give the class labels with --labels \"a,b,c\" or --labels-file F"};
  if (images.empty()) throw UsageError{"give at least one image"};
  cuclip_model* m = open_model(c);
  if (!m) return 1;
  cuclip_context* ctx = open_context(m, c);
  if (!ctx) { cuclip_model_free(m); return 1; }
  std::vector<const char*> tptr;
  const char* const* targ = nullptr;  // NULL: the model's defaults
  int nt = 0;
  if (tmpl_choice == "openai-imagenet") {
    for (int i = 0; i < cuclip_openai_imagenet_template_count(); ++i) tptr.push_back(cuclip_openai_imagenet_template(i));
  } else if (tmpl_choice == "none") {
    tptr.push_back("{}");
  } else if (!tmpl_choice.empty()) {
    templates = read_lines(tmpl_choice, "--templates");
    for (auto& t : templates) {
      if (t.find("{}") == std::string::npos) throw UsageError{"--templates: every line of '" + tmpl_choice + "' needs a {}"};
      tptr.push_back(t.c_str());
    }
  }
  if (!tmpl_choice.empty()) { targ = tptr.data(); nt = (int)tptr.size(); }
  std::vector<const char*> lptr;
  for (auto& l : labels) lptr.push_back(l.c_str());
  cuclip_classifier* clf = nullptr;
  if (cuclip_classifier_create(ctx, lptr.data(), (int)lptr.size(), targ, nt, &clf) != CUCLIP_OK) {
    print_error("classify", cuclip_last_error());
    cuclip_context_free(ctx);
    cuclip_model_free(m);
    return 1;
  }
  const int K = (int)labels.size(), k = top_k > 0 ? std::min(top_k, K) : K;
  size_t failed = 0;
  Progress prog("classifying", images.size());
  const size_t chunk = 256;
  for (size_t s = 0; s < images.size(); s += chunk) {
    const size_t n = std::min(chunk, images.size() - s);
    std::vector<const char*> ptrs(n);
    for (size_t j = 0; j < n; ++j) ptrs[j] = images[s + j].c_str();
    // The k best classes only (selected on the device by a CUDA context).
    std::vector<float> probs(n * (size_t)k);
    std::vector<int> top(n * (size_t)k);
    std::vector<cuclip_status> st(n);
    cuclip_classify_image_files_top_k(clf, ptrs.data(), (int)n, k, top.data(), probs.data(), st.data());
    for (size_t j = 0; j < n; ++j) {
      if (st[j] != CUCLIP_OK) {
        std::vector<float> one((size_t)K);
        cuclip_classify_image_files(clf, &ptrs[j], 1, one.data(), nullptr);
        const std::string why = cuclip_last_error();
        std::fprintf(stderr, "cuclip classify: %s: %s\n", ptrs[j], why.c_str());
        std::printf("{\"image\": %s, \"error\": %s}\n", json_string(ptrs[j]).c_str(), json_string(why).c_str());
        ++failed;
        continue;
      }
      const int* idx = top.data() + j * k;
      const float* p = probs.data() + j * k;
      std::string line = "{\"image\": " + json_string(ptrs[j]) + ", \"labels\": [";
      for (int i = 0; i < k; ++i) {
        char b[32];
        std::snprintf(b, sizeof b, "%.6g", p[i]);
        line += std::string(i ? ", " : "") + "{\"label\": " + json_string(labels[(size_t)idx[i]]) + ", \"prob\": " + b + "}";
      }
      std::printf("%s]}\n", line.c_str());
    }
    prog.update(s + n);
  }
  cuclip_classifier_free(clf);
  cuclip_context_free(ctx);
  cuclip_model_free(m);
  return failed == 0 ? 0 : failed == images.size() ? 1 : 2;
}

}  // namespace cli
