// cuclip-convert: transformers CLIPModel and open_clip checkpoint directories -> one .cuclip file.
// Conversion is exact or refused: anything that cannot be represented (an unknown tensor, an
// unsupported architecture switch, a value that overflows the target dtype) is an error naming
// the file, tensor or field, and no output file is left behind.
#pragma once
#include <string>
#include <vector>

#include "base/status.hpp"
#include "model_config.hpp"

namespace cuclip::convert {

enum class TemplatesChoice { OpenAiImageNet, None, File };

struct ConvertOptions {
  DType dtype = DType::F16;                // dtype of the matrices in the output file
  TemplatesChoice templates = TemplatesChoice::OpenAiImageNet;
  std::string templates_file;              // with TemplatesChoice::File: one template per line
  std::string bundled_bpe;                 // path of bpe_simple_vocab_16e6.txt.gz ("" = find it)
};

enum class SourceLayout { Transformers, OpenClip };

// Detects the layout of a checkpoint directory (config.json vs open_clip_config.json).
Status detect_layout(const std::string& dir, SourceLayout* out);

// Converts; on success *summary describes what was written (one line).
Status convert_directory(const std::string& src_dir, const std::string& out_path, const ConvertOptions& opts,
                         std::string* summary);

}  // namespace cuclip::convert
