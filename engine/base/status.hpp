// Internal error type: a cuclip_status code plus a message naming the culprit.
// Library code never prints, exits or aborts; it returns a Status that the C API turns into
// cuclip_status + cuclip_last_error().
#pragma once
#include <string>
#include <utility>

#include "cuclip.h"

namespace cuclip {

struct Status {
  cuclip_status code = CUCLIP_OK;
  std::string message;

  Status() = default;
  Status(cuclip_status c, std::string m) : code(c), message(std::move(m)) {}
  static Status Ok() { return {}; }
  bool ok() const { return code == CUCLIP_OK; }
  explicit operator bool() const { return ok(); }
};

inline Status Err(cuclip_status code, std::string message) { return Status(code, std::move(message)); }

// Propagate a non-ok Status to the caller.
#define CUCLIP_TRY(expr)                      \
  do {                                        \
    ::cuclip::Status cuclip_try_s_ = (expr);  \
    if (!cuclip_try_s_.ok()) return cuclip_try_s_; \
  } while (0)

}  // namespace cuclip
