#include "safetensors.hpp"

#include <algorithm>
#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "base/checked.hpp"

namespace cuclip::convert {

using nlohmann::json;

namespace {

StDType parse_dtype(const std::string& s, uint64_t* size) {
  struct E { const char* n; StDType d; uint64_t sz; };
  static const E table[] = {{"F32", StDType::F32, 4}, {"F16", StDType::F16, 2}, {"BF16", StDType::BF16, 2},
                            {"F64", StDType::F64, 8}, {"I64", StDType::I64, 8}, {"I32", StDType::I32, 4},
                            {"I16", StDType::I16, 2}, {"I8", StDType::I8, 1},   {"U8", StDType::U8, 1},
                            {"BOOL", StDType::BOOL, 1}, {"U16", StDType::Other, 2}, {"U32", StDType::Other, 4},
                            {"U64", StDType::Other, 8}, {"F8_E4M3", StDType::Other, 1}, {"F8_E5M2", StDType::Other, 1}};
  for (const E& e : table)
    if (s == e.n) { *size = e.sz; return e.d; }
  *size = 0;
  return StDType::Other;
}

Status bad(const std::string& label, const std::string& msg) { return Err(CUCLIP_ERR_INVALID_MODEL, "'" + label + "': " + msg); }

}  // namespace

Status Checkpoint::add_file(const std::string& path, const SafetensorsLimits& limits) {
  auto m = std::make_unique<MappedFile>();
  CUCLIP_TRY(MappedFile::open(path, m.get()));
  CUCLIP_TRY(add_buffer(m->data(), m->size(), path, limits));
  maps_.push_back(std::move(m));
  return Status::Ok();
}

Status Checkpoint::add_buffer(const uint8_t* data, uint64_t size, const std::string& label, const SafetensorsLimits& limits) {
  if (size < 8) return bad(label, "file is too short to be safetensors (" + std::to_string(size) + " bytes)");
  uint64_t n;
  std::memcpy(&n, data, 8);
  if (n > limits.max_header_bytes)
    return Err(CUCLIP_ERR_LIMIT_EXCEEDED, "'" + label + "': safetensors header length " + std::to_string(n) + " exceeds the limit of " +
                                              std::to_string(limits.max_header_bytes));
  if (n > size - 8) return bad(label, "safetensors header length " + std::to_string(n) + " runs past the end of the file");
  json h = json::parse(data + 8, data + 8 + n, nullptr, false);
  if (h.is_discarded() || !h.is_object()) return bad(label, "safetensors header is not a JSON object");
  const uint8_t* buf = data + 8 + n;
  const uint64_t buf_len = size - 8 - n;
  if (h.size() > limits.max_tensors) return Err(CUCLIP_ERR_LIMIT_EXCEEDED, "'" + label + "': too many tensors");
  struct Span { uint64_t b, e; std::string name; };
  std::vector<Span> spans;
  std::map<std::string, StTensor> found;
  for (auto it = h.begin(); it != h.end(); ++it) {
    const std::string& name = it.key();
    if (name == "__metadata__") {
      if (!it->is_object()) return bad(label, "__metadata__ must be an object of strings");
      for (auto m = it->begin(); m != it->end(); ++m)
        if (!m->is_string()) return bad(label, "__metadata__ must be an object of strings");
      continue;
    }
    const json& e = *it;
    const std::string where = "tensor '" + name + "'";
    if (!e.is_object()) return bad(label, where + ": entry is not an object");
    if (!e.contains("dtype") || !e["dtype"].is_string()) return bad(label, where + ": missing dtype");
    StTensor t;
    t.name = name;
    t.file = label;
    t.dtype_name = e["dtype"].get<std::string>();
    uint64_t esz;
    t.dtype = parse_dtype(t.dtype_name, &esz);
    if (esz == 0) return bad(label, where + ": unknown dtype '" + t.dtype_name + "'");
    if (!e.contains("shape") || !e["shape"].is_array() || e["shape"].size() > 8) return bad(label, where + ": shape must be an array of at most 8 dims");
    for (const json& d : e["shape"]) {
      if (!d.is_number_unsigned()) return bad(label, where + ": shape dims must be non-negative integers");
      t.shape.push_back((int64_t)std::min<uint64_t>(d.get<uint64_t>(), uint64_t(1) << 62));
    }
    if (!e.contains("data_offsets") || !e["data_offsets"].is_array() || e["data_offsets"].size() != 2 ||
        !e["data_offsets"][0].is_number_unsigned() || !e["data_offsets"][1].is_number_unsigned())
      return bad(label, where + ": data_offsets must be [begin, end]");
    const uint64_t b = e["data_offsets"][0].get<uint64_t>(), en = e["data_offsets"][1].get<uint64_t>();
    if (en < b) return bad(label, where + ": data_offsets end before they begin");
    if (en > buf_len) return bad(label, where + ": data_offsets [" + std::to_string(b) + ", " + std::to_string(en) + ") run past the data buffer of " + std::to_string(buf_len) + " bytes");
    uint64_t numel, want;
    if (!checked_product(t.shape.begin(), t.shape.end(), &numel) || !checked_mul(numel, esz, &want))
      return bad(label, where + ": shape product overflows");
    if (want != en - b) return bad(label, where + ": " + std::to_string(en - b) + " data bytes disagree with shape and dtype (" + std::to_string(want) + ")");
    t.data = buf + b;
    t.bytes = en - b;
    spans.push_back({b, en, name});
    found.emplace(name, std::move(t));
  }
  // The data buffer must be tiled exactly: no hole, no overlap.
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.b < b.b || (a.b == b.b && a.e < b.e); });
  uint64_t pos = 0;
  for (const Span& s : spans) {
    if (s.b < pos) return bad(label, "tensor '" + s.name + "' overlaps the previous tensor");
    if (s.b > pos) return bad(label, "hole in the data buffer before tensor '" + s.name + "'");
    pos = s.e;
  }
  if (pos != buf_len) return bad(label, "the data buffer has " + std::to_string(buf_len - pos) + " trailing bytes not covered by any tensor");
  for (auto& [name, t] : found) {
    if (tensors_.count(name)) return bad(label, "tensor '" + name + "' also appears in '" + tensors_[name].file + "'");
    tensors_.emplace(name, std::move(t));
  }
  return Status::Ok();
}

Status Checkpoint::add_sharded(const std::string& index_path, const SafetensorsLimits& limits) {
  std::string text;
  CUCLIP_TRY(read_text_file(index_path, 64ull << 20, &text));
  json idx = json::parse(text, nullptr, false);
  if (idx.is_discarded() || !idx.is_object() || !idx.contains("weight_map") || !idx["weight_map"].is_object())
    return bad(index_path, "not a safetensors index (needs a weight_map object)");
  const std::string dir = index_path.substr(0, index_path.find_last_of('/') == std::string::npos ? 0 : index_path.find_last_of('/'));
  std::map<std::string, std::string> weight_map;
  std::set<std::string> shards;
  for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
    if (!it->is_string()) return bad(index_path, "weight_map['" + it.key() + "'] is not a file name");
    std::string f = it->get<std::string>();
    if (f.empty() || f.find('/') != std::string::npos || f.find('\\') != std::string::npos || f == "." || f == "..")
      return bad(index_path, "weight_map['" + it.key() + "'] = '" + f + "' is not a plain file name in the checkpoint directory");
    weight_map[it.key()] = f;
    shards.insert(f);
  }
  for (const std::string& s : shards) {
    const std::string p = dir.empty() ? s : dir + "/" + s;
    Checkpoint one;
    CUCLIP_TRY(one.add_file(p, limits));
    for (auto& [name, t] : one.tensors_) {
      auto w = weight_map.find(name);
      if (w == weight_map.end()) return bad(p, "tensor '" + name + "' is not listed in the index");
      if (w->second != s) return bad(p, "tensor '" + name + "' is listed in the index under '" + w->second + "'");
      if (tensors_.count(name)) return bad(p, "tensor '" + name + "' appears in two shards");
      tensors_.emplace(name, t);
    }
    for (auto& m : one.maps_) maps_.push_back(std::move(m));
  }
  for (const auto& [name, f] : weight_map)
    if (!tensors_.count(name)) return bad(index_path, "tensor '" + name + "' listed in the index is missing from '" + f + "'");
  return Status::Ok();
}

const StTensor* Checkpoint::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

}  // namespace cuclip::convert
