// The process-wide log callback and the thread-local last-error message behind the C API.
#pragma once
#include <string>

#include "cuclip.h"

namespace cuclip {
void set_last_error(const std::string& message);
void clear_last_error();
void log_message(cuclip_log_level level, const std::string& message);
}  // namespace cuclip
