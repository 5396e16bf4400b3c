// Prompt templates for zero-shot classification: the bundled OpenAI ImageNet set, and parsing of
// user template files (one template per line, each with exactly one "{}").
#pragma once
#include <string>
#include <vector>

#include "base/status.hpp"

namespace cuclip {

const std::vector<std::string>& openai_imagenet_templates();
Status parse_templates(const std::string& text, const std::string& label, std::vector<std::string>* out);
// "{}" replaced by the class name.
std::string apply_template(const std::string& tmpl, const std::string& class_name);

}  // namespace cuclip
