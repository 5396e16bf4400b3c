// Emulated-build stand-in for the CUDA toolkit's <cuda_bf16.h>: kernel files that include it directly get
// the CPU emulator's definitions. Only the cuclip_emu_kernels build puts this directory on the path.
#pragma once
#include "kernels/emu/cuda_emu.hpp"
