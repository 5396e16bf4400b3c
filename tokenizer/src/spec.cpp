// TokenizerSpec builders: the open_clip BPE file, Hugging Face vocab.json + merges.txt or
// tokenizer.json, and loading the bundled gzipped vocabulary.
#include <zlib.h>

#include <nlohmann/json.hpp>

#include "base/file.hpp"
#include "bpe.hpp"
#include "cuclip/tokenizer.hpp"
#include "unicode.hpp"

namespace cuclip::tok {
namespace {

constexpr int kClipMergeCount = 49152 - 256 - 2;  // open_clip: merges = lines[1 : 49152-256-2+1]
constexpr const char* kBpeFileName = "bpe_simple_vocab_16e6.txt.gz";

std::vector<std::string> byte_symbols() {
  std::vector<std::string> out;
  for (uint8_t b : detail::byte_symbol_order()) {
    std::string s;
    detail::append_utf8(detail::byte_to_unicode()[b], &s);
    out.push_back(std::move(s));
  }
  return out;
}

// Splits on runs of ASCII whitespace, like Python's str.split() for these ASCII-only lines.
std::vector<std::string_view> split_ws(std::string_view line) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    size_t j = i;
    while (j < line.size() && !(line[j] == ' ' || line[j] == '\t' || line[j] == '\r')) ++j;
    if (j > i) parts.push_back(line.substr(i, j - i));
    i = j;
  }
  return parts;
}

Status finish_hf_spec(std::vector<std::string> vocab, std::vector<std::string> merges, TokenizerSpec* out) {
  TokenizerSpec spec;
  spec.vocab = std::move(vocab);
  spec.merges = std::move(merges);
  spec.clean = CleanMode::HfFast;
  auto find = [&](const char* token) -> int32_t {
    for (size_t i = spec.vocab.size(); i-- > 0;)
      if (spec.vocab[i] == token) return static_cast<int32_t>(i);
    return -1;
  };
  spec.sot_id = find("<|startoftext|>");
  spec.eot_id = find("<|endoftext|>");
  if (spec.sot_id < 0 || spec.eot_id < 0)
    return Err(CUCLIP_ERR_INVALID_MODEL, "HF tokenizer: vocab lacks \"<|startoftext|>\" or \"<|endoftext|>\"");
  spec.pad_id = spec.eot_id;
  *out = std::move(spec);
  return Status::Ok();
}

Status vocab_from_json_object(const nlohmann::json& obj, std::vector<std::string>* vocab) {
  if (!obj.is_object()) return Err(CUCLIP_ERR_INVALID_MODEL, "HF tokenizer: vocab is not a JSON object");
  vocab->assign(obj.size(), std::string());
  std::vector<bool> seen(obj.size(), false);
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (!it.value().is_number_integer())
      return Err(CUCLIP_ERR_INVALID_MODEL, "HF tokenizer: vocab id of \"" + it.key() + "\" is not an integer");
    const int64_t id = it.value().get<int64_t>();
    if (id < 0 || id >= static_cast<int64_t>(obj.size()) || seen[id])
      return Err(CUCLIP_ERR_INVALID_MODEL, "HF tokenizer: vocab ids are not 0..n-1 (token \"" + it.key() + "\" has id " +
                                               std::to_string(id) + ")");
    seen[id] = true;
    (*vocab)[id] = it.key();
  }
  return Status::Ok();
}

}  // namespace

Status spec_from_clip_bpe(std::string_view bpe_text, TokenizerSpec* out) {
  if (!out) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "spec_from_clip_bpe: out is null");
  std::vector<std::string> merges;
  merges.reserve(kClipMergeCount);
  size_t pos = 0, line_no = 0;
  while (pos <= bpe_text.size() && static_cast<int>(merges.size()) < kClipMergeCount) {
    size_t nl = bpe_text.find('\n', pos);
    if (nl == std::string_view::npos) nl = bpe_text.size();
    const std::string_view line = bpe_text.substr(pos, nl - pos);
    if (nl == bpe_text.size() && line.empty()) break;  // the text ends with '\n'
    if (line_no > 0) {  // line 0 is the "#version" header
      const auto parts = split_ws(line);
      if (parts.size() != 2)
        return Err(CUCLIP_ERR_INVALID_MODEL, "CLIP bpe file line " + std::to_string(line_no + 1) +
                                                 " is not a merge \"left right\"");
      merges.push_back(std::string(parts[0]) + " " + std::string(parts[1]));
    }
    ++line_no;
    pos = nl + 1;
  }
  if (static_cast<int>(merges.size()) != kClipMergeCount)
    return Err(CUCLIP_ERR_INVALID_MODEL, "CLIP bpe file has " + std::to_string(merges.size()) + " merges, " +
                                             std::to_string(kClipMergeCount) + " expected");
  TokenizerSpec spec;
  const auto bytes = byte_symbols();
  spec.vocab = bytes;
  for (const auto& b : bytes) spec.vocab.push_back(b + "</w>");
  for (const auto& m : merges) {
    const size_t sp = m.find(' ');
    spec.vocab.push_back(m.substr(0, sp) + m.substr(sp + 1));
  }
  spec.vocab.push_back("<start_of_text>");
  spec.vocab.push_back("<end_of_text>");
  spec.merges = std::move(merges);
  spec.sot_id = static_cast<int32_t>(spec.vocab.size()) - 2;
  spec.eot_id = static_cast<int32_t>(spec.vocab.size()) - 1;
  spec.pad_id = 0;
  spec.context_length = 77;
  spec.clean = CleanMode::OpenClip;
  *out = std::move(spec);
  return Status::Ok();
}

Status spec_from_hf_vocab_merges(std::string_view vocab_json, std::string_view merges_txt, TokenizerSpec* out) {
  if (!out) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "spec_from_hf_vocab_merges: out is null");
  nlohmann::json obj = nlohmann::json::parse(vocab_json.begin(), vocab_json.end(), nullptr, false);
  if (obj.is_discarded()) return Err(CUCLIP_ERR_INVALID_MODEL, "HF vocab.json is not valid JSON");
  std::vector<std::string> vocab;
  CUCLIP_TRY(vocab_from_json_object(obj, &vocab));
  std::vector<std::string> merges;
  size_t pos = 0, line_no = 0;
  while (pos < merges_txt.size()) {
    size_t nl = merges_txt.find('\n', pos);
    if (nl == std::string_view::npos) nl = merges_txt.size();
    std::string_view line = merges_txt.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (line_no == 1 && line.substr(0, 8) == "#version") continue;
    const auto parts = split_ws(line);
    if (parts.empty()) continue;
    if (parts.size() != 2)
      return Err(CUCLIP_ERR_INVALID_MODEL, "HF merges.txt line " + std::to_string(line_no) + " is not \"left right\"");
    merges.push_back(std::string(parts[0]) + " " + std::string(parts[1]));
  }
  return finish_hf_spec(std::move(vocab), std::move(merges), out);
}

namespace {

Status hf_tokenizer_json_impl(std::string_view tokenizer_json, TokenizerSpec* out) {
  nlohmann::json j = nlohmann::json::parse(tokenizer_json.begin(), tokenizer_json.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Err(CUCLIP_ERR_INVALID_MODEL, "tokenizer.json is not a JSON object");
  const auto model = j.find("model");
  if (model == j.end() || !model->is_object() || model->value("type", "") != "BPE")
    return Err(CUCLIP_ERR_UNSUPPORTED, "tokenizer.json: model.type is not \"BPE\"");
  if (model->contains("end_of_word_suffix") && (*model)["end_of_word_suffix"] != "</w>")
    return Err(CUCLIP_ERR_UNSUPPORTED, "tokenizer.json: end_of_word_suffix is not \"</w>\" (not a CLIP tokenizer)");
  std::vector<std::string> vocab;
  CUCLIP_TRY(vocab_from_json_object(model->value("vocab", nlohmann::json()), &vocab));
  // Added tokens may extend the vocab beyond model.vocab.
  if (auto added = j.find("added_tokens"); added != j.end() && added->is_array()) {
    for (const auto& t : *added) {
      const int64_t id = t.value("id", int64_t{-1});
      const std::string content = t.value("content", std::string());
      if (id < 0) return Err(CUCLIP_ERR_INVALID_MODEL, "tokenizer.json: added token without an id");
      if (id < static_cast<int64_t>(vocab.size())) {
        if (vocab[id] != content)
          return Err(CUCLIP_ERR_INVALID_MODEL, "tokenizer.json: added token \"" + content + "\" has id " +
                                                   std::to_string(id) + " of \"" + vocab[id] + "\"");
      } else if (id == static_cast<int64_t>(vocab.size())) {
        vocab.push_back(content);
      } else {
        return Err(CUCLIP_ERR_INVALID_MODEL, "tokenizer.json: added token ids leave a gap at " + std::to_string(vocab.size()));
      }
    }
  }
  std::vector<std::string> merges;
  const auto jm = model->find("merges");
  if (jm == model->end() || !jm->is_array()) return Err(CUCLIP_ERR_INVALID_MODEL, "tokenizer.json: model.merges missing");
  for (const auto& m : *jm) {
    if (m.is_string()) {
      merges.push_back(m.get<std::string>());
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
    } else {
      return Err(CUCLIP_ERR_INVALID_MODEL, "tokenizer.json: merge " + std::to_string(merges.size()) + " is malformed");
    }
  }
  return finish_hf_spec(std::move(vocab), std::move(merges), out);
}

}  // namespace

Status spec_from_hf_tokenizer_json(std::string_view tokenizer_json, TokenizerSpec* out) {
  if (!out) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "spec_from_hf_tokenizer_json: out is null");
  try {  // nlohmann's accessors throw on fields of an unexpected type
    return hf_tokenizer_json_impl(tokenizer_json, out);
  } catch (const std::bad_alloc&) {
    return Err(CUCLIP_ERR_OUT_OF_MEMORY, "tokenizer.json: out of memory");
  } catch (const std::exception& e) {
    return Err(CUCLIP_ERR_INVALID_MODEL, std::string("tokenizer.json: ") + e.what());
  }
}

std::string default_clip_bpe_path() {
  const std::string installed = std::string(CUCLIP_TOKENIZER_INSTALL_DATA_DIR) + "/" + kBpeFileName;
  if (file_exists(installed)) return installed;
  return std::string(CUCLIP_TOKENIZER_SOURCE_DATA_DIR) + "/" + kBpeFileName;
}

Status load_bundled_clip_bpe(const std::string& gz_path, std::string* text) {
  if (!text) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "load_bundled_clip_bpe: text is null");
  const std::string path = gz_path.empty() ? default_clip_bpe_path() : gz_path;
  std::vector<uint8_t> gz;
  CUCLIP_TRY(read_file(path, 64ull << 20, &gz));
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return Err(CUCLIP_ERR_OUT_OF_MEMORY, "zlib inflateInit2 failed");
  zs.next_in = gz.data();
  zs.avail_in = static_cast<uInt>(gz.size());
  std::string out;
  char buf[1 << 16];
  int rc;
  do {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) break;
    out.append(buf, sizeof buf - zs.avail_out);
    if (out.size() > (256ull << 20)) { rc = Z_MEM_ERROR; break; }
  } while (rc != Z_STREAM_END && (zs.avail_in > 0 || zs.avail_out == 0));
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) return Err(CUCLIP_ERR_IO, path + ": not a complete gzip stream (zlib code " + std::to_string(rc) + ")");
  *text = std::move(out);
  return Status::Ok();
}

}  // namespace cuclip::tok
