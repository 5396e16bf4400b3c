// cuclip_status names, the thread-local last-error message and the log callback.
#include <atomic>
#include <mutex>
#include <string>

#include "base/log.hpp"
#include "base/status.hpp"

namespace cuclip {

static thread_local std::string g_last_error;

void set_last_error(const std::string& message) { g_last_error = message; }
void clear_last_error() { g_last_error.clear(); }

static std::mutex g_log_mutex;
static cuclip_log_callback g_log_cb = nullptr;
static void* g_log_user = nullptr;

void log_message(cuclip_log_level level, const std::string& message) {
  cuclip_log_callback cb;
  void* user;
  {
    std::lock_guard<std::mutex> lock(g_log_mutex);
    cb = g_log_cb;
    user = g_log_user;
  }
  if (cb) cb(level, message.c_str(), user);
}

}  // namespace cuclip

extern "C" {

const char* cuclip_status_string(cuclip_status s) {
  switch (s) {
    case CUCLIP_OK: return "ok";
    case CUCLIP_ERR_INVALID_ARGUMENT: return "invalid argument";
    case CUCLIP_ERR_IO: return "i/o error";
    case CUCLIP_ERR_BAD_MAGIC: return "bad magic";
    case CUCLIP_ERR_UNSUPPORTED_VERSION: return "unsupported format version";
    case CUCLIP_ERR_INVALID_MODEL: return "invalid model";
    case CUCLIP_ERR_CHECKSUM: return "checksum mismatch";
    case CUCLIP_ERR_OUT_OF_MEMORY: return "out of memory";
    case CUCLIP_ERR_LIMIT_EXCEEDED: return "limit exceeded";
    case CUCLIP_ERR_INVALID_IMAGE: return "invalid image";
    case CUCLIP_ERR_UNSUPPORTED_IMAGE: return "unsupported image";
    case CUCLIP_ERR_INVALID_TEXT: return "invalid text";
    case CUCLIP_ERR_BACKEND_UNAVAILABLE: return "backend unavailable";
    case CUCLIP_ERR_DEVICE: return "device error";
    case CUCLIP_ERR_BUFFER_TOO_SMALL: return "buffer too small";
    case CUCLIP_ERR_INTERNAL: return "internal error";
    case CUCLIP_ERR_UNSUPPORTED: return "unsupported";
  }
  return "unknown status";
}

const char* cuclip_last_error(void) { return cuclip::g_last_error.c_str(); }

void cuclip_set_log_callback(cuclip_log_callback callback, void* user_data) {
  std::lock_guard<std::mutex> lock(cuclip::g_log_mutex);
  cuclip::g_log_cb = callback;
  cuclip::g_log_user = user_data;
}

}  // extern "C"
