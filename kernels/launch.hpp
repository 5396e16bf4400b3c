// The single kernel launcher. Every kernel launch in cuclip goes through launch() (usually via
// CUCLIP_LAUNCH, which passes the kernel's name): under nvcc it is the project's only <<<>>>, in
// the emulated build it hands the grid to the CPU emulator. Either way it returns a Status whose
// message names the kernel.
//
// Under nvcc the Status reports configuration errors only (cudaGetLastError after <<<>>>); faults
// inside the kernel surface at the next synchronize, as usual. The emulator runs the grid before
// returning, so barrier divergence, bad shuffles and out-of-bounds accesses come back from the
// launch itself (and again from the next synchronize on the stream).
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "kernels/gpu.hpp"
#if !defined(__CUDACC__)
#include "kernels/emu/emulator.hpp"
#endif

namespace cuclip::kernels::inline CUCLIP_BUILD_NS {

// name must outlive every replay of a graph that captures the launch: a string literal, as
// CUCLIP_LAUNCH passes.
template <class... Params, class... Args>
Status launch(const char* name, void (*kernel)(Params...), dim3 grid, dim3 block, size_t dyn_smem,
              cudaStream_t stream, Args&&... args) {
  static_assert(sizeof...(Params) == sizeof...(Args), "launch: argument count differs from the kernel's");
#if defined(__CUDACC__)
  kernel<<<grid, block, dyn_smem, stream>>>(std::forward<Args>(args)...);
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) {
    return Err(CUCLIP_ERR_DEVICE, std::string("kernel ") + name + ": launch failed: " + cudaGetErrorString(e) + " (" +
                                      cudaGetErrorName(e) + ")");
  }
  return Status::Ok();
#else
  // The arguments are converted to the parameter types once, as CUDA copies them to the parameter
  // space at launch; each emulated thread then receives its own copy.
  using Bound = std::tuple<void (*)(Params...), std::decay_t<Params>...>;
  emu::KernelLaunch l;
  l.name = name;
  l.kernel = reinterpret_cast<const void*>(kernel);
  l.grid = grid;
  l.block = block;
  l.dyn_smem = dyn_smem;
  l.params = std::make_shared<const Bound>(kernel, std::forward<Args>(args)...);
  l.invoke = [](const void* p) {
    std::apply([](auto fn, const auto&... a) { fn(a...); }, *static_cast<const Bound*>(p));
  };
  return emu::launch_kernel(stream, l);
#endif
}

}  // namespace cuclip::kernels::inline CUCLIP_BUILD_NS

// CUCLIP_LAUNCH(kernel, grid, block, dyn_smem, stream, args...): launch() with the kernel's name
// taken from its spelling. Wrap a template with commas in parentheses: CUCLIP_LAUNCH((k<64, 2>), ...).
#define CUCLIP_LAUNCH(kernel, grid, block, dyn_smem, stream, ...) \
  ::cuclip::kernels::launch(#kernel, kernel, grid, block, dyn_smem, stream __VA_OPT__(, ) __VA_ARGS__)
