#include "templates.hpp"

#include "templates_data.inc"  // kOpenAiImageNetTemplates: generated from engine/data/openai_imagenet_templates.txt

namespace cuclip {

const std::vector<std::string>& openai_imagenet_templates() {
  static const std::vector<std::string> t = [] {
    std::vector<std::string> v;
    parse_templates(kOpenAiImageNetTemplates, "bundled templates", &v);
    return v;
  }();
  return t;
}

Status parse_templates(const std::string& text, const std::string& label, std::vector<std::string>* out) {
  std::vector<std::string> v;
  size_t start = 0, line = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    std::string t = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    start = nl == std::string::npos ? text.size() : nl + 1;
    ++line;
    if (!t.empty() && t.back() == '\r') t.pop_back();
    if (t.empty()) continue;
    size_t p = t.find("{}");
    if (p == std::string::npos || t.find("{}", p + 2) != std::string::npos)
      return Err(CUCLIP_ERR_INVALID_ARGUMENT, label + ":" + std::to_string(line) + ": a template must contain exactly one \"{}\"");
    v.push_back(t);
  }
  if (v.empty()) return Err(CUCLIP_ERR_INVALID_ARGUMENT, label + ": no templates");
  *out = std::move(v);
  return Status::Ok();
}

std::string apply_template(const std::string& tmpl, const std::string& class_name) {
  size_t p = tmpl.find("{}");
  if (p == std::string::npos) return tmpl;
  return tmpl.substr(0, p) + class_name + tmpl.substr(p + 2);
}

}  // namespace cuclip
