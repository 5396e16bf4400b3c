// Linked into every <test>_gpu executable (cuclip_add_kernel_test): exits with ctest's skip code 77
// before main runs when there is no GPU, so GPU tests are skipped, not failed, on machines without one.
#include <cstdlib>

#include "kernels/gpu.hpp"

namespace {
const bool g_device_checked = [] {
  if (cuclip::gpu::device_count() == 0) std::_Exit(77);
  return true;
}();
}  // namespace
