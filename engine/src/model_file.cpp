// Reading, validating and writing .cuclip files. The rules enforced here are the MUST rules of
// docs/format.md, in the same order; tests/format/ has one test per rule.
#include "model_file.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "base/checked.hpp"
#include "base/half.hpp"

namespace cuclip {

using nlohmann::json;

namespace {

template <class T>
T read_le(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));  // the format is little-endian, as is every platform we build for
  return v;
}

Status bad(const std::string& msg) { return Err(CUCLIP_ERR_INVALID_MODEL, msg + " (re-run cuclip-convert to produce a valid file)"); }

std::string crc_hex(uint32_t c) {
  char b[9];
  std::snprintf(b, sizeof b, "%08x", c);
  return b;
}

bool parse_crc_hex(const std::string& s, uint32_t* out) {
  if (s.size() != 8) return false;
  uint32_t v = 0;
  for (char ch : s) {
    int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
    if (d < 0) return false;
    v = v * 16 + (uint32_t)d;
  }
  *out = v;
  return true;
}

// The engine sizes every pixel buffer by image_size, and preprocessing writes size x size pixels.
Status check_preprocess_size(const ModelConfig& config, const PreprocessConfig& preprocess) {
  if (preprocess.size != config.vision.image_size)
    return bad("preprocess.size " + std::to_string(preprocess.size) + " differs from config.vision.image_size " +
               std::to_string(config.vision.image_size));
  return Status::Ok();
}

}  // namespace

Status check_tensor_set(const ModelConfig& config, const std::vector<TensorInfo>& tensors) {
  std::unordered_map<std::string, const TensorInfo*> by_name;
  for (const auto& t : tensors) by_name[t.name] = &t;
  std::set<std::string> expected_names;
  for (const auto& e : expected_tensors(config)) {
    expected_names.insert(e.name);
    auto it = by_name.find(e.name);
    if (it == by_name.end()) return bad("tensor '" + e.name + "' is missing");
    if (it->second->shape != e.shape) {
      auto fmt = [](const std::vector<int64_t>& s) {
        std::string r = "[";
        for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
        return r + "]";
      };
      return bad("tensor '" + e.name + "' has shape " + fmt(it->second->shape) + " but the config requires " + fmt(e.shape));
    }
  }
  for (const auto& t : tensors)
    if (!expected_names.count(t.name)) return bad("tensor '" + t.name + "' is not part of this architecture");
  return Status::Ok();
}

Status ModelFile::open(const std::string& path, const LoadLimits& limits, std::unique_ptr<ModelFile>* out) {
  MappedFile m;
  CUCLIP_TRY(MappedFile::open(path, &m));
  std::unique_ptr<ModelFile> f;
  Status s = parse(m.data(), m.size(), limits, &f);
  if (!s.ok()) {
    s.message = "'" + path + "': " + s.message;
    return s;
  }
  f->map_ = std::move(m);
  *out = std::move(f);
  return Status::Ok();
}

Status ModelFile::parse(const uint8_t* data, uint64_t size, const LoadLimits& limits, std::unique_ptr<ModelFile>* out) {
  // Rule 1: the fixed header is present and starts with the magic.
  if (size < kFixedHeaderBytes) {
    if (size >= 8 && std::memcmp(data, kMagic, 8) != 0) return Err(CUCLIP_ERR_BAD_MAGIC, "not a cuclip model file (bad magic)");
    return bad("file is truncated: " + std::to_string(size) + " bytes is shorter than the 48-byte fixed header");
  }
  if (std::memcmp(data, kMagic, 8) != 0) return Err(CUCLIP_ERR_BAD_MAGIC, "not a cuclip model file (bad magic)");
  // Rule 2: version.
  const uint32_t version = read_le<uint32_t>(data + 8);
  if (version != kFormatVersion)
    return Err(CUCLIP_ERR_UNSUPPORTED_VERSION, "format version " + std::to_string(version) + " is not supported (this build reads version " +
                                                   std::to_string(kFormatVersion) + ")");
  const uint32_t alignment = read_le<uint32_t>(data + 12);
  const uint64_t header_bytes = read_le<uint64_t>(data + 16);
  const uint32_t header_crc = read_le<uint32_t>(data + 24);
  const uint32_t reserved = read_le<uint32_t>(data + 28);
  const uint64_t data_offset = read_le<uint64_t>(data + 32);
  const uint64_t data_bytes = read_le<uint64_t>(data + 40);
  // Rule 3: alignment is a power of two in [256, 1 MiB].
  if (alignment < kMinAlignment || alignment > kMaxAlignment || (alignment & (alignment - 1)) != 0)
    return bad("alignment " + std::to_string(alignment) + " is not a power of two in [256, 1048576]");
  if (reserved != 0) return bad("reserved header field is not zero");
  // Rule 4: the header length is under the cap and inside the file.
  if (header_bytes > limits.max_header_bytes)
    return Err(CUCLIP_ERR_LIMIT_EXCEEDED, "header length " + std::to_string(header_bytes) + " exceeds the limit of " +
                                              std::to_string(limits.max_header_bytes) + " bytes");
  if (header_bytes > size - kFixedHeaderBytes)
    return bad("header length " + std::to_string(header_bytes) + " runs past the end of the " + std::to_string(size) + "-byte file");
  // Rule 5: data_offset = align_up(48 + header_bytes, alignment), and the data section ends the file.
  const uint64_t want_offset = align_up(kFixedHeaderBytes + header_bytes, alignment);
  if (data_offset != want_offset)
    return bad("data offset " + std::to_string(data_offset) + " should be " + std::to_string(want_offset));
  uint64_t end;
  if (!checked_add(data_offset, data_bytes, &end) || end != size)
    return bad("file is " + std::to_string(size) + " bytes but the header describes " + std::to_string(data_offset) + " + " +
               std::to_string(data_bytes) + " (truncated or trailing data)");
  for (uint64_t i = kFixedHeaderBytes + header_bytes; i < data_offset; ++i)
    if (data[i] != 0) return bad("padding between the header and the data is not zero");
  // Rule 6: header checksum, then valid JSON object.
  const uint8_t* hdr = data + kFixedHeaderBytes;
  if (crc32_of(hdr, header_bytes) != header_crc) return Err(CUCLIP_ERR_CHECKSUM, "header checksum mismatch: the header is corrupted");
  auto f = std::unique_ptr<ModelFile>(new ModelFile());
  f->base_ = data;
  f->size_ = size;
  f->header_ = json::parse(hdr, hdr + header_bytes, nullptr, /*allow_exceptions=*/false);
  if (f->header_.is_discarded()) return bad("header is not valid JSON");
  const json& h = f->header_;
  if (!h.is_object()) return bad("header is not a JSON object");
  if (!h.contains("format") || h["format"] != "cuclip") return bad("header.format must be \"cuclip\"");
  if (!h.contains("file_dtype") || !h["file_dtype"].is_string() || !dtype_from_name(h["file_dtype"].get<std::string>(), &f->file_dtype_))
    return bad("header.file_dtype must be one of f32, f16, bf16");
  // Rule 7: config, preprocessing, tokenizer, templates.
  CUCLIP_TRY(config_from_json(h.value("config", json()), &f->config_));
  CUCLIP_TRY(preprocess_from_json(h.value("preprocess", json()), &f->preprocess_));
  CUCLIP_TRY(check_preprocess_size(f->config_, f->preprocess_));
  CUCLIP_TRY(tokenizer_from_json(h.value("tokenizer", json()), &f->tokenizer_));
  if ((int64_t)f->tokenizer_.vocab.size() != f->config_.text.vocab_size)
    return bad("tokenizer vocab has " + std::to_string(f->tokenizer_.vocab.size()) + " entries but config.text.vocab_size is " +
               std::to_string(f->config_.text.vocab_size));
  if (f->tokenizer_.context_length != f->config_.text.context_length)
    return bad("tokenizer.context_length differs from config.text.context_length");
  if (f->config_.text.pool == TextPool::FirstEot && f->config_.text.eot_id != f->tokenizer_.eot_id)
    return bad("config.text.eot_id differs from tokenizer.eot_id");
  if (!h.contains("templates") || !h["templates"].is_array()) return bad("header.templates must be an array of strings");
  for (const json& t : h["templates"]) {
    if (!t.is_string()) return bad("header.templates must be an array of strings");
    f->templates_.push_back(t.get<std::string>());
  }
  // Rule 8: the tensor table.
  if (!h.contains("tensors") || !h["tensors"].is_array()) return bad("header.tensors must be an array");
  const json& tt = h["tensors"];
  if (tt.size() > limits.max_tensor_count)
    return Err(CUCLIP_ERR_LIMIT_EXCEEDED, "the file declares " + std::to_string(tt.size()) + " tensors, over the limit of " +
                                              std::to_string(limits.max_tensor_count));
  f->tensors_.reserve(tt.size());
  for (size_t i = 0; i < tt.size(); ++i) {
    const json& e = tt[i];
    std::string where = "tensor #" + std::to_string(i);
    if (!e.is_object() || !e.contains("name") || !e["name"].is_string()) return bad(where + ": missing name");
    TensorInfo t;
    t.name = e["name"].get<std::string>();
    where = "tensor '" + t.name + "'";
    if (f->index_.count(t.name)) return bad(where + " appears twice");
    if (!e.contains("dtype") || !e["dtype"].is_string() || !dtype_from_name(e["dtype"].get<std::string>(), &t.dtype))
      return bad(where + ": unknown dtype " + (e.contains("dtype") ? e["dtype"].dump() : "(missing)"));
    if (!e.contains("shape") || !e["shape"].is_array() || e["shape"].size() > (size_t)kMaxRank)
      return bad(where + ": shape must be an array of at most " + std::to_string(kMaxRank) + " dims");
    for (const json& d : e["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 1 || d.get<int64_t>() > kMaxDim)
        return bad(where + ": every dim must be an integer in [1, 2^31], got " + d.dump());
      t.shape.push_back(d.get<int64_t>());
    }
    for (const char* k : {"offset", "bytes"})
      if (!e.contains(k) || !e[k].is_number_unsigned()) return bad(where + ": " + k + " must be a non-negative integer");
    t.offset = e["offset"].get<uint64_t>();
    t.bytes = e["bytes"].get<uint64_t>();
    if (!e.contains("crc32") || !e["crc32"].is_string() || !parse_crc_hex(e["crc32"].get<std::string>(), &t.crc32))
      return bad(where + ": crc32 must be 8 lowercase hex digits");
    uint64_t n, want;
    if (!checked_product(t.shape.begin(), t.shape.end(), &n) || !checked_mul(n, dtype_size(t.dtype), &want))
      return bad(where + ": shape product overflows");
    if (t.bytes != want)
      return bad(where + ": byte size " + std::to_string(t.bytes) + " disagrees with shape and dtype (" + std::to_string(want) + ")");
    if (t.offset % alignment != 0) return bad(where + ": offset " + std::to_string(t.offset) + " is not a multiple of the alignment");
    uint64_t tend;
    if (!checked_add(t.offset, t.bytes, &tend) || tend > data_bytes)
      return bad(where + ": data [" + std::to_string(t.offset) + ", +" + std::to_string(t.bytes) + ") lies outside the data section");
    const bool keep_f32 = tensor_is_kept_f32(t.name, t.shape.size());
    if (keep_f32 && t.dtype != DType::F32) return bad(where + ": must be stored as f32");
    if (!keep_f32 && t.dtype != f->file_dtype_) return bad(where + ": dtype differs from header.file_dtype");
    t.data = data + data_offset + t.offset;
    f->index_[t.name] = f->tensors_.size();
    f->tensors_.push_back(std::move(t));
  }
  // Rule 9: tensors do not overlap.
  std::vector<const TensorInfo*> by_off;
  for (const auto& t : f->tensors_) by_off.push_back(&t);
  std::sort(by_off.begin(), by_off.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_off.size(); ++i)
    if (by_off[i - 1]->offset + by_off[i - 1]->bytes > by_off[i]->offset)
      return bad("tensors '" + by_off[i - 1]->name + "' and '" + by_off[i]->name + "' overlap");
  // Rule 10: the tensor set is exactly the architecture's.
  CUCLIP_TRY(check_tensor_set(f->config_, f->tensors_));
  *out = std::move(f);
  return Status::Ok();
}

const TensorInfo* ModelFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

json ModelFile::info_json() const {
  json j = header_;
  if (j.contains("tokenizer")) {
    j["tokenizer"]["vocab"] = std::to_string(tokenizer_.vocab.size()) + " entries";
    j["tokenizer"]["merges"] = std::to_string(tokenizer_.merges.size()) + " entries";
  }
  j["file_bytes"] = size_;
  return j;
}

Status ModelFile::verify() const {
  std::string bad_crc, bad_values;
  for (const auto& t : tensors_) {
    if (crc32_of(t.data, t.bytes) != t.crc32) bad_crc += (bad_crc.empty() ? "" : ", ") + t.name;
    uint64_t nonfinite = 0;
    const int64_t n = t.numel();
    for (int64_t i = 0; i < n; ++i) {
      float v;
      if (t.dtype == DType::F32) std::memcpy(&v, t.data + 4 * i, 4);
      else {
        uint16_t h;
        std::memcpy(&h, t.data + 2 * i, 2);
        v = t.dtype == DType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
      }
      if (!std::isfinite(v)) ++nonfinite;
    }
    if (nonfinite) bad_values += (bad_values.empty() ? "" : ", ") + t.name + " (" + std::to_string(nonfinite) + " NaN/Inf)";
  }
  if (!bad_crc.empty()) return Err(CUCLIP_ERR_CHECKSUM, "checksum mismatch in tensor(s): " + bad_crc);
  if (!bad_values.empty()) return Err(CUCLIP_ERR_INVALID_MODEL, "non-finite weights in tensor(s): " + bad_values);
  return Status::Ok();
}

void ModelWriter::add_tensor(std::string name, DType dtype, std::vector<int64_t> shape, Fill fill) {
  pending_.push_back({std::move(name), dtype, std::move(shape), std::move(fill)});
}

Status ModelWriter::write(const std::string& path, uint32_t alignment) {
  // Lay out the tensors and check them against the config with the loader's own rule.
  std::vector<TensorInfo> infos;
  uint64_t off = 0;
  for (const auto& p : pending_) {
    TensorInfo t;
    t.name = p.name;
    t.dtype = p.dtype;
    t.shape = p.shape;
    uint64_t n;
    if (!checked_product(t.shape.begin(), t.shape.end(), &n) || !checked_mul(n, dtype_size(t.dtype), &t.bytes))
      return bad("tensor '" + t.name + "': shape product overflows");
    t.offset = off;
    if (!checked_add(off, t.bytes, &off) || !checked_align_up(off, alignment, &off)) return bad("model too large");
    infos.push_back(std::move(t));
  }
  CUCLIP_TRY(check_tensor_set(config, infos));
  // The loader's own field rules, so that nothing is written that it would refuse.
  ModelConfig config_as_loaded;
  PreprocessConfig preprocess_as_loaded;
  CUCLIP_TRY(config_from_json(config_to_json(config), &config_as_loaded));
  CUCLIP_TRY(preprocess_from_json(preprocess_to_json(preprocess), &preprocess_as_loaded));
  CUCLIP_TRY(check_preprocess_size(config, preprocess));
  // First pass: checksums.
  std::vector<uint8_t> buf;
  for (size_t i = 0; i < pending_.size(); ++i) {
    buf.assign(infos[i].bytes, 0);
    CUCLIP_TRY(pending_[i].fill(buf.data(), buf.size()));
    infos[i].crc32 = crc32_of(buf.data(), buf.size());
  }
  json tensors = json::array();
  for (const auto& t : infos)
    tensors.push_back(json{{"name", t.name}, {"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"offset", t.offset},
                           {"bytes", t.bytes}, {"crc32", crc_hex(t.crc32)}});
  json h{{"format", "cuclip"},          {"file_dtype", dtype_name(file_dtype)},  {"config", config_to_json(config)},
         {"preprocess", preprocess_to_json(preprocess)}, {"tokenizer", tokenizer_to_json(tokenizer)},
         {"templates", templates},       {"source", source},                       {"tensors", tensors}};
  std::string hs;
  try {
    hs = h.dump();  // throws on strings that are not valid UTF-8 (e.g. a merges.txt line)
  } catch (const std::exception& e) {
    return bad(std::string("the header cannot be written as JSON: ") + e.what());
  }
  const uint64_t data_offset = align_up(kFixedHeaderBytes + hs.size(), alignment);
  uint8_t fixed[kFixedHeaderBytes] = {};
  std::memcpy(fixed, kMagic, 8);
  auto put32 = [&](size_t at, uint32_t v) { std::memcpy(fixed + at, &v, 4); };
  auto put64 = [&](size_t at, uint64_t v) { std::memcpy(fixed + at, &v, 8); };
  put32(8, kFormatVersion);
  put32(12, alignment);
  put64(16, hs.size());
  put32(24, crc32_of(hs.data(), hs.size()));
  put64(32, data_offset);
  put64(40, off);
  AtomicFileWriter w;
  CUCLIP_TRY(w.open(path));
  CUCLIP_TRY(w.write(fixed, sizeof fixed));
  CUCLIP_TRY(w.write(hs.data(), hs.size()));
  CUCLIP_TRY(w.write_zeros(data_offset - w.offset()));
  for (size_t i = 0; i < pending_.size(); ++i) {
    buf.assign(infos[i].bytes, 0);
    CUCLIP_TRY(pending_[i].fill(buf.data(), buf.size()));
    if (crc32_of(buf.data(), buf.size()) != infos[i].crc32)
      return Err(CUCLIP_ERR_INTERNAL, "tensor '" + infos[i].name + "' produced different data on the second pass");
    CUCLIP_TRY(w.write(buf.data(), buf.size()));
    CUCLIP_TRY(w.write_zeros(data_offset + infos[i].offset + align_up(infos[i].bytes, alignment) - w.offset()));
  }
  if (w.offset() != data_offset + off) return Err(CUCLIP_ERR_INTERNAL, "model writer layout mismatch");
  return w.commit();
}

}  // namespace cuclip
