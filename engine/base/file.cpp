#include "base/file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

namespace cuclip {

static std::string errno_text() { return std::strerror(errno); }

MappedFile::~MappedFile() {
  if (data_ && size_) munmap(const_cast<uint8_t*>(data_), size_);
}
MappedFile::MappedFile(MappedFile&& o) noexcept : data_(o.data_), size_(o.size_), path_(std::move(o.path_)) {
  o.data_ = nullptr;
  o.size_ = 0;
}
MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
  if (this != &o) {
    if (data_ && size_) munmap(const_cast<uint8_t*>(data_), size_);
    data_ = o.data_;
    size_ = o.size_;
    path_ = std::move(o.path_);
    o.data_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}

Status MappedFile::open(const std::string& path, MappedFile* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Err(CUCLIP_ERR_IO, "cannot open '" + path + "': " + errno_text());
  struct stat st;
  if (fstat(fd, &st) != 0) {
    std::string e = errno_text();
    ::close(fd);
    return Err(CUCLIP_ERR_IO, "cannot stat '" + path + "': " + e);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Err(CUCLIP_ERR_IO, "'" + path + "' is not a regular file");
  }
  MappedFile m;
  m.path_ = path;
  m.size_ = (uint64_t)st.st_size;
  if (m.size_ > 0) {
    void* p = mmap(nullptr, m.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      std::string e = errno_text();
      ::close(fd);
      return Err(CUCLIP_ERR_IO, "cannot map '" + path + "': " + e);
    }
    m.data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
  *out = std::move(m);
  return Status::Ok();
}

void MappedFile::release(const uint8_t* p, uint64_t n) const {
  if (!data_ || p < data_ || p + n > data_ + size_) return;
  const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  uintptr_t b = ((uintptr_t)p + page - 1) / page * page, e = ((uintptr_t)p + n) / page * page;
  if (e > b) madvise((void*)b, e - b, MADV_DONTNEED);
}

Status read_file(const std::string& path, uint64_t max_bytes, std::vector<uint8_t>* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Err(CUCLIP_ERR_IO, "cannot open '" + path + "': " + errno_text());
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Err(CUCLIP_ERR_IO, "'" + path + "' is not a readable regular file");
  }
  if ((uint64_t)st.st_size > max_bytes) {
    ::close(fd);
    return Err(CUCLIP_ERR_LIMIT_EXCEEDED, "'" + path + "' is " + std::to_string(st.st_size) +
                                              " bytes, over the limit of " + std::to_string(max_bytes));
  }
  out->resize((size_t)st.st_size);
  size_t got = 0;
  while (got < out->size()) {
    ssize_t r = ::read(fd, out->data() + got, out->size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      std::string e = r < 0 ? errno_text() : "unexpected end of file";
      ::close(fd);
      return Err(CUCLIP_ERR_IO, "cannot read '" + path + "': " + e);
    }
    got += (size_t)r;
  }
  ::close(fd);
  return Status::Ok();
}

Status read_text_file(const std::string& path, uint64_t max_bytes, std::string* out) {
  std::vector<uint8_t> b;
  CUCLIP_TRY(read_file(path, max_bytes, &b));
  out->assign(b.begin(), b.end());
  return Status::Ok();
}

AtomicFileWriter::~AtomicFileWriter() {
  if (!committed_) abort();
}

Status AtomicFileWriter::open(const std::string& path) {
  path_ = path;
  tmp_ = path + ".tmp." + std::to_string(getpid());
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) return Err(CUCLIP_ERR_IO, "cannot create '" + tmp_ + "': " + errno_text());
  return Status::Ok();
}

Status AtomicFileWriter::write(const void* data, size_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd_, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return Err(CUCLIP_ERR_IO, "cannot write '" + tmp_ + "': " + errno_text());
    p += w;
    n -= (size_t)w;
    offset_ += (uint64_t)w;
  }
  return Status::Ok();
}

Status AtomicFileWriter::write_zeros(size_t n) {
  static const uint8_t zeros[4096] = {};
  while (n > 0) {
    size_t k = n < sizeof(zeros) ? n : sizeof(zeros);
    CUCLIP_TRY(write(zeros, k));
    n -= k;
  }
  return Status::Ok();
}

Status AtomicFileWriter::commit() {
  if (fsync(fd_) != 0) return Err(CUCLIP_ERR_IO, "cannot flush '" + tmp_ + "': " + errno_text());
  if (::close(fd_) != 0) {
    fd_ = -1;
    return Err(CUCLIP_ERR_IO, "cannot close '" + tmp_ + "': " + errno_text());
  }
  fd_ = -1;
  if (::rename(tmp_.c_str(), path_.c_str()) != 0)
    return Err(CUCLIP_ERR_IO, "cannot rename '" + tmp_ + "' to '" + path_ + "': " + errno_text());
  committed_ = true;
  return Status::Ok();
}

void AtomicFileWriter::abort() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!tmp_.empty() && !committed_) ::unlink(tmp_.c_str());
}

uint32_t crc32_of(const void* data, uint64_t n) {
  uLong c = crc32(0L, Z_NULL, 0);
  const Bytef* p = static_cast<const Bytef*>(data);
  while (n > 0) {
    uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
    c = crc32(c, p, k);
    p += k;
    n -= k;
  }
  return (uint32_t)c;
}

bool file_exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}
bool is_directory(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
std::string path_join(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (a.back() == '/') return a + b;
  return a + "/" + b;
}

}  // namespace cuclip
