// Files: read-only memory maps, bounded whole-file reads, all-or-nothing writes, CRC32.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.hpp"

namespace cuclip {

// A read-only private mapping of a whole file. Movable, not copyable.
class MappedFile {
 public:
  MappedFile() = default;
  ~MappedFile();
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&& o) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  static Status open(const std::string& path, MappedFile* out);
  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Tells the kernel the pages of [p, p + n) within the mapping are not needed now (they are
  // re-read from the file if touched again). Lowers resident memory after weights were copied.
  void release(const uint8_t* p, uint64_t n) const;

 private:
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  std::string path_;
};

// Reads a whole file; refuses files larger than max_bytes (CUCLIP_ERR_LIMIT_EXCEEDED).
Status read_file(const std::string& path, uint64_t max_bytes, std::vector<uint8_t>* out);
Status read_text_file(const std::string& path, uint64_t max_bytes, std::string* out);

// Writes a file all-or-nothing: data goes to "<path>.tmp.<pid>", is fsynced, then renamed over
// path. On any failure the temporary is removed and path is untouched.
class AtomicFileWriter {
 public:
  ~AtomicFileWriter();
  Status open(const std::string& path);
  Status write(const void* data, size_t n);
  Status write_zeros(size_t n);
  uint64_t offset() const { return offset_; }
  Status commit();  // fsync + rename
  void abort();     // remove the temporary (also done by the destructor unless committed)

 private:
  int fd_ = -1;
  std::string path_, tmp_;
  uint64_t offset_ = 0;
  bool committed_ = false;
};

uint32_t crc32_of(const void* data, uint64_t n);

bool file_exists(const std::string& path);
bool is_directory(const std::string& path);
std::string path_join(const std::string& a, const std::string& b);

}  // namespace cuclip
