// Guarded device memory for the emulator.
//
// Each allocation gets its own mapping: a PROT_NONE guard page, the data pages, another guard page.
// By default the data ends exactly at the trailing guard, so reading or writing even one element past
// the end faults and the launch reports the kernel and the offset. The start is then aligned to the
// largest power of two up to 16 that divides the size (16 for every size that is a multiple of 16
// bytes, so vector loads work where they would on the GPU). CUCLIP_EMU_GUARD=front puts the start at
// the leading guard instead (catching underruns exactly, overruns only past the padding). The padding
// between the data and the guard pages holds a canary pattern that is checked after every launch,
// which catches stray writes there (not reads).
// New allocations are filled with 0xff bytes (NaN in every float format), so reading memory that
// nothing wrote shows up in results instead of passing as zeros.
#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include "kernels/emu/internal.hpp"

namespace cuclip::emu::detail {
namespace {

constexpr unsigned char kCanary = 0xa5;
constexpr unsigned char kFreshFill = 0xff;

struct Allocation {
  char* region = nullptr;
  size_t region_bytes = 0;
  char* data = nullptr;  // the pointer handed out
  size_t bytes = 0;
  char* usable_begin = nullptr;  // the read-write pages
  char* usable_end = nullptr;
  uint64_t id = 0;
};

std::mutex g_mu;
std::map<uintptr_t, Allocation> g_allocations;  // keyed by region start
uint64_t g_next_id = 1;
size_t g_live_bytes = 0;  // the requested bytes of the live allocations, against the device's size

// The emulated device's memory: CUCLIP_EMU_DEVICE_MEMORY bytes (read at each allocation, so a test
// can shrink it to provoke out-of-memory); unset or 0: no limit beyond the host's.
size_t device_memory_limit() {
  const char* e = std::getenv("CUCLIP_EMU_DEVICE_MEMORY");
  if (!e || !*e) return SIZE_MAX;
  const unsigned long long v = std::strtoull(e, nullptr, 10);
  return v == 0 ? SIZE_MAX : (size_t)v;
}

bool guard_front() {
  static const bool front = [] {
    const char* v = std::getenv("CUCLIP_EMU_GUARD");
    return v && std::strcmp(v, "front") == 0;
  }();
  return front;
}

// The allocation whose mapping (guards included) contains p; caller holds g_mu.
const Allocation* find_locked(const void* p) {
  auto key = reinterpret_cast<uintptr_t>(p);
  auto it = g_allocations.upper_bound(key);
  if (it == g_allocations.begin()) return nullptr;
  --it;
  const Allocation& a = it->second;
  return key < it->first + a.region_bytes ? &a : nullptr;
}

bool canaries_intact(const Allocation& a) {
  for (const char* p = a.usable_begin; p < a.data; ++p)
    if (static_cast<unsigned char>(*p) != kCanary) return false;
  for (const char* p = a.data + a.bytes; p < a.usable_end; ++p)
    if (static_cast<unsigned char>(*p) != kCanary) return false;
  return true;
}

}  // namespace

bool describe_device_address(const void* address, std::string* out) {
  std::lock_guard<std::mutex> lock(g_mu);
  const Allocation* a = find_locked(address);
  if (!a) return false;
  auto p = static_cast<const char*>(address);
  std::string alloc = "device allocation #" + std::to_string(a->id) + " (" + std::to_string(a->bytes) + " bytes)";
  if (p >= a->data + a->bytes) {
    *out = "byte offset " + std::to_string(p - a->data) + " of " + alloc + ", " +
           std::to_string(p - (a->data + a->bytes)) + " bytes past its end";
  } else if (p < a->data) {
    *out = std::to_string(a->data - p) + " bytes before the start of " + alloc;
  } else {
    *out = "byte offset " + std::to_string(p - a->data) + " inside " + alloc;
  }
  return true;
}

bool check_redzones(std::string* out) {
  std::lock_guard<std::mutex> lock(g_mu);
  for (const auto& [key, a] : g_allocations) {
    if (canaries_intact(a)) continue;
    *out = "wrote into the padding next to device allocation #" + std::to_string(a.id) + " (" +
           std::to_string(a.bytes) + " bytes): an out-of-bounds write";
    // Restore the pattern so the next launch does not report the same write again.
    std::memset(a.usable_begin, kCanary, static_cast<size_t>(a.data - a.usable_begin));
    std::memset(a.data + a.bytes, kCanary, static_cast<size_t>(a.usable_end - (a.data + a.bytes)));
    return false;
  }
  return true;
}

Status device_alloc(void** out, size_t bytes) {
  *out = nullptr;
  size_t page = page_size();
  size_t padded = (bytes + 15) / 16 * 16;
  size_t usable = (padded + page - 1) / page * page;
  if (bytes > (SIZE_MAX >> 2)) return Err(CUCLIP_ERR_OUT_OF_MEMORY, "device_alloc: " + std::to_string(bytes) + " bytes");
  {
    std::lock_guard<std::mutex> lock(g_mu);
    const size_t limit = device_memory_limit();
    if (bytes > limit || g_live_bytes > limit - bytes)
      return Err(CUCLIP_ERR_OUT_OF_MEMORY, "device_alloc: " + std::to_string(bytes) + " bytes with " + std::to_string(g_live_bytes) +
                                               " in use exceeds the device's " + std::to_string(limit) +
                                               " (CUCLIP_EMU_DEVICE_MEMORY; cudaErrorMemoryAllocation)");
  }
  size_t total = usable + 2 * page;
  void* p = mmap(nullptr, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    return Err(CUCLIP_ERR_OUT_OF_MEMORY, "device_alloc: cannot map " + std::to_string(bytes) + " bytes (cudaErrorMemoryAllocation)");
  }
  Allocation a;
  a.region = static_cast<char*>(p);
  a.region_bytes = total;
  a.usable_begin = a.region + page;
  a.usable_end = a.usable_begin + usable;
  a.bytes = bytes;
  if (usable > 0 && mprotect(a.usable_begin, usable, PROT_READ | PROT_WRITE) != 0) {
    munmap(p, total);
    return Err(CUCLIP_ERR_OUT_OF_MEMORY, "device_alloc: mprotect failed for " + std::to_string(bytes) + " bytes");
  }
  a.data = guard_front() ? a.usable_begin : a.usable_end - bytes;
  if (usable > 0) {
    std::memset(a.usable_begin, kCanary, usable);
    std::memset(a.data, kFreshFill, bytes);
  }
  std::lock_guard<std::mutex> lock(g_mu);
  a.id = g_next_id++;
  g_live_bytes += bytes;
  g_allocations[reinterpret_cast<uintptr_t>(a.region)] = a;
  *out = a.data;
  return Status::Ok();
}

Status device_free(void* ptr) {
  if (!ptr) return Status::Ok();
  std::lock_guard<std::mutex> lock(g_mu);
  const Allocation* a = find_locked(ptr);
  if (!a || a->data != ptr) {
    return Err(CUCLIP_ERR_DEVICE, "device_free: pointer is not the start of a live device allocation (cudaErrorInvalidDevicePointer)");
  }
  munmap(a->region, a->region_bytes);
  g_live_bytes -= a->bytes;
  g_allocations.erase(reinterpret_cast<uintptr_t>(a->region));
  return Status::Ok();
}

// [p, p + bytes) must lie inside one live allocation.
Status check_device_range(const void* p, size_t bytes, const char* what) {
  std::lock_guard<std::mutex> lock(g_mu);
  const Allocation* a = find_locked(p);
  auto c = static_cast<const char*>(p);
  if (!a || c < a->data || c > a->data + a->bytes) {
    return Err(CUCLIP_ERR_DEVICE, std::string(what) + ": pointer is not in a device allocation (cudaErrorInvalidValue)");
  }
  if (bytes > static_cast<size_t>(a->data + a->bytes - c)) {
    return Err(CUCLIP_ERR_DEVICE, std::string(what) + ": " + std::to_string(bytes) + " bytes at offset " +
                                      std::to_string(c - a->data) + " overrun device allocation #" + std::to_string(a->id) +
                                      " (" + std::to_string(a->bytes) + " bytes) (cudaErrorInvalidValue)");
  }
  return Status::Ok();
}

size_t live_device_bytes() {
  std::lock_guard<std::mutex> lock(g_mu);
  size_t total = 0;
  for (const auto& [key, a] : g_allocations) total += a.bytes;
  return total;
}

}  // namespace cuclip::emu::detail
