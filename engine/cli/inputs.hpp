// Expanding the CLI's input arguments: image directories and list files, text files.
#pragma once
#include <string>
#include <vector>

namespace cli {

// --images DIR_OR_LIST: a directory (its image files, sorted by name) or a text file of paths.
std::vector<std::string> expand_images(const std::string& dir_or_list);
// --texts FILE: a .jsonl file of JSON strings, or a plain file of one text per line. Lines that
// are not valid JSON strings in a .jsonl file are reported in *bad as "FILE:LINE: why".
std::vector<std::string> read_texts(const std::string& path, std::vector<std::string>* bad, std::vector<size_t>* bad_index);

}  // namespace cli
