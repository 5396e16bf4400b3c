# The CUDA backend's host code (src/gpu_backend.cpp), compiled once per build of kernels/
# (docs/emulation.md), included from engine.cmake after cuclip_engine:
#   cuclip_gpu_backend_emu   always: against cuclip_emu_kernels, the `cuda-emu` backend
#   cuclip_gpu_backend_cuda  with CUDA: against cuclip_cuda_kernels, the `cuda` backend
# cuclip_engine links them for linking only ($<LINK_ONLY:...>): their usage requirements (CUCLIP_EMU,
# which selects the emulated build of kernels/gpu.hpp, and the CUDA headers) must reach neither the
# engine's other sources nor its users, who may link the other build of the kernels themselves.
function(cuclip_add_gpu_backend target kernels)
  add_library(${target} STATIC ${CMAKE_CURRENT_SOURCE_DIR}/src/gpu_backend.cpp)
  # Model (model.cpp) is in cuclip_engine, which links this library: a cycle of static libraries,
  # which CMake resolves by repeating them on the link line.
  target_link_libraries(${target}
    PUBLIC ${kernels} cuclip_format cuclip_tokenizer cuclip_image cuclip_cpu cuclip_base
    PRIVATE $<LINK_ONLY:cuclip_engine>)
  target_compile_options(${target} PRIVATE ${CUCLIP_WARNINGS})
  target_link_libraries(cuclip_engine PRIVATE $<LINK_ONLY:${target}>)
endfunction()

cuclip_add_gpu_backend(cuclip_gpu_backend_emu cuclip_emu_kernels)
if(CUCLIP_HAVE_CUDA)
  cuclip_add_gpu_backend(cuclip_gpu_backend_cuda cuclip_cuda_kernels)
  target_compile_definitions(cuclip_engine PRIVATE CUCLIP_HAVE_CUDA_BACKEND=1)
endif()
