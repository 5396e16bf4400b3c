#include "base/npy.hpp"

#include <cstring>

#include "base/checked.hpp"
#include "base/file.hpp"

namespace cuclip {

Status npy_write_f32(const std::string& path, const std::vector<int64_t>& shape, const float* data) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  uint64_t n = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    dict += std::to_string(shape[i]);
    if (shape.size() == 1 || i + 1 < shape.size()) dict += ",";
    if (i + 1 < shape.size()) dict += " ";
    if (!checked_mul(n, (uint64_t)shape[i], &n)) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "npy shape overflows");
  }
  dict += "), }";
  // magic(6) + version(2) + len(2) + dict + '\n' padded to a multiple of 64
  size_t total = 10 + dict.size() + 1;
  size_t padded = align_up(total, 64);
  dict.append(padded - total, ' ');
  dict += '\n';
  std::string head = "\x93NUMPY";
  head += (char)1;
  head += (char)0;
  uint16_t hl = (uint16_t)dict.size();
  head += (char)(hl & 0xff);
  head += (char)(hl >> 8);
  head += dict;
  AtomicFileWriter w;
  CUCLIP_TRY(w.open(path));
  CUCLIP_TRY(w.write(head.data(), head.size()));
  CUCLIP_TRY(w.write(data, n * sizeof(float)));
  return w.commit();
}

int64_t NpyArray::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::vector<float> NpyArray::as_f32() const {
  std::vector<float> out((size_t)numel());
  for (size_t i = 0; i < out.size(); ++i) {
    if (dtype == "<f4") { float v; std::memcpy(&v, &bytes[i * 4], 4); out[i] = v; }
    else if (dtype == "<f8") { double v; std::memcpy(&v, &bytes[i * 8], 8); out[i] = (float)v; }
    else if (dtype == "<i4") { int32_t v; std::memcpy(&v, &bytes[i * 4], 4); out[i] = (float)v; }
    else if (dtype == "<i8") { int64_t v; std::memcpy(&v, &bytes[i * 8], 8); out[i] = (float)v; }
    else if (dtype == "|u1") { out[i] = bytes[i]; }
  }
  return out;
}

std::vector<int64_t> NpyArray::as_i64() const {
  std::vector<int64_t> out((size_t)numel());
  for (size_t i = 0; i < out.size(); ++i) {
    if (dtype == "<i4") { int32_t v; std::memcpy(&v, &bytes[i * 4], 4); out[i] = v; }
    else if (dtype == "<i8") { int64_t v; std::memcpy(&v, &bytes[i * 8], 8); out[i] = v; }
    else if (dtype == "|u1") { out[i] = bytes[i]; }
    else if (dtype == "<f4") { float v; std::memcpy(&v, &bytes[i * 4], 4); out[i] = (int64_t)v; }
  }
  return out;
}

Status npy_read(const std::string& path, NpyArray* out) {
  std::vector<uint8_t> b;
  CUCLIP_TRY(read_file(path, 1ull << 34, &b));
  auto bad = [&](const std::string& why) { return Err(CUCLIP_ERR_INVALID_ARGUMENT, "'" + path + "': " + why); };
  if (b.size() < 10 || std::memcmp(b.data(), "\x93NUMPY", 6) != 0) return bad("not an .npy file");
  size_t hl, off;
  if (b[6] == 1) { hl = b[8] | (b[9] << 8); off = 10; }
  else { if (b.size() < 12) return bad("truncated"); hl = b[8] | (b[9] << 8) | ((size_t)b[10] << 16) | ((size_t)b[11] << 24); off = 12; }
  if (off + hl > b.size()) return bad("truncated header");
  std::string dict(b.begin() + off, b.begin() + off + hl);
  auto field = [&](const std::string& key) -> std::string {
    size_t p = dict.find("'" + key + "'");
    if (p == std::string::npos) return "";
    p = dict.find(':', p);
    return p == std::string::npos ? "" : dict.substr(p + 1);
  };
  std::string d = field("descr");
  size_t q1 = d.find('\''), q2 = d.find('\'', q1 + 1);
  if (q1 == std::string::npos || q2 == std::string::npos) return bad("no descr");
  out->dtype = d.substr(q1 + 1, q2 - q1 - 1);
  if (out->dtype == "<u1") out->dtype = "|u1";
  size_t esz = out->dtype == "<f4" || out->dtype == "<i4" ? 4 : out->dtype == "<f8" || out->dtype == "<i8" ? 8
             : out->dtype == "|u1" ? 1 : 0;
  if (esz == 0) return bad("unsupported dtype " + out->dtype);
  if (field("fortran_order").find("True") != std::string::npos &&
      field("fortran_order").find("True") < field("fortran_order").find(',')) return bad("fortran order");
  std::string s = field("shape");
  size_t p1 = s.find('('), p2 = s.find(')');
  if (p1 == std::string::npos || p2 == std::string::npos) return bad("no shape");
  out->shape.clear();
  std::string inner = s.substr(p1 + 1, p2 - p1 - 1);
  size_t i = 0;
  while (i < inner.size()) {
    while (i < inner.size() && (inner[i] == ' ' || inner[i] == ',')) ++i;
    if (i >= inner.size()) break;
    size_t j = i;
    while (j < inner.size() && inner[j] >= '0' && inner[j] <= '9') ++j;
    if (j == i) return bad("bad shape");
    out->shape.push_back(std::stoll(inner.substr(i, j - i)));
    i = j;
  }
  uint64_t n;
  if (!checked_product(out->shape.begin(), out->shape.end(), &n) || !checked_mul(n, esz, &n)) return bad("shape overflows");
  if (off + hl + n != b.size()) return bad("data size disagrees with shape");
  out->bytes.assign(b.begin() + off + hl, b.end());
  return Status::Ok();
}

}  // namespace cuclip
