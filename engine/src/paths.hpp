// Finding bundled files (the CLIP BPE vocab, the default model) without being told where they are:
// $CUCLIP_DATA_DIR, next to the executable, the install prefix, then the source tree.
#pragma once
#include <string>
#include <vector>

namespace cuclip {

// The directory holding the running executable ("" if unknown).
std::string executable_dir();
// The first existing candidate for a bundled data file; the first candidate if none exists.
std::string find_data_file(const std::string& name);
// The default model file: $CUCLIP_MODEL, then shapes.cuclip next to the executable, in
// ../share/cuclip/models, the install prefix, the source tree's models/. "" if none exists.
std::string find_default_model();

}  // namespace cuclip
