// cuclip-convert SRC_DIR -o OUT.cuclip [--dtype f32|f16|bf16] [--templates openai-imagenet|none|FILE]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "convert.hpp"

static void usage(FILE* f) {
  std::fprintf(f,
               "usage: cuclip-convert SRC_DIR -o OUT.cuclip [--dtype f32|f16|bf16] [--templates openai-imagenet|none|FILE]\n"
               "                      [--bpe PATH]\n"
               "Converts a transformers CLIPModel directory (config.json, model.safetensors or a sharded index,\n"
               "tokenizer files, preprocessor_config.json) or an open_clip directory (open_clip_config.json,\n"
               "open_clip_model.safetensors) into one validated .cuclip file.\n"
               "  --dtype      dtype of the weight matrices (default f16; norms and biases stay f32)\n"
               "  --templates  default zero-shot prompt templates stored in the file (default openai-imagenet;\n"
               "               'none' stores \"{}\": class names are used as they are)\n"
               "  --bpe        the CLIP BPE vocab for open_clip checkpoints (default: the bundled copy)\n");
}

int main(int argc, char** argv) {
  std::string src, out;
  cuclip::convert::ConvertOptions opts;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto need = [&](const char* what) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "cuclip-convert: %s needs a value\n", what);
        std::exit(1);
      }
      return argv[++i];
    };
    if (a == "-h" || a == "--help") { usage(stdout); return 0; }
    else if (a == "-o" || a == "--output") out = need("-o");
    else if (a == "--dtype") {
      std::string d = need("--dtype");
      if (!cuclip::dtype_from_name(d, &opts.dtype)) { std::fprintf(stderr, "cuclip-convert: --dtype must be f32, f16 or bf16, not '%s'\n", d.c_str()); return 1; }
    } else if (a == "--templates") {
      std::string t = need("--templates");
      if (t == "openai-imagenet") opts.templates = cuclip::convert::TemplatesChoice::OpenAiImageNet;
      else if (t == "none") opts.templates = cuclip::convert::TemplatesChoice::None;
      else { opts.templates = cuclip::convert::TemplatesChoice::File; opts.templates_file = t; }
    } else if (a == "--bpe") opts.bundled_bpe = need("--bpe");
    else if (!a.empty() && a[0] == '-') { std::fprintf(stderr, "cuclip-convert: unknown option '%s'\n", a.c_str()); usage(stderr); return 1; }
    else if (src.empty()) src = a;
    else { std::fprintf(stderr, "cuclip-convert: unexpected argument '%s'\n", a.c_str()); return 1; }
  }
  if (src.empty() || out.empty()) { usage(stderr); return 1; }
  std::string summary;
  cuclip::Status s;
  try {
    s = cuclip::convert::convert_directory(src, out, opts, &summary);
  } catch (const std::exception& e) {  // a bug, but never an abort: report it as one line
    s = cuclip::Err(CUCLIP_ERR_INTERNAL, std::string("internal error: ") + e.what());
  }
  if (!s.ok()) {
    std::fprintf(stderr, "cuclip-convert: error: %s\n", s.message.c_str());
    return 1;
  }
  std::printf("%s\n", summary.c_str());
  return 0;
}
