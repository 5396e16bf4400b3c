// The CUDA emulation header set: what a kernel file sees in place of the CUDA toolkit when it is
// compiled by the host C++ compiler (the cuclip_emu_kernels build). kernels/common.cuh includes it
// whenever __CUDACC__ is not defined; nothing else should need to.
#pragma once
#include <cmath>
#include <cstdio>

#include "kernels/emu/cuda_types.hpp"
#include "kernels/emu/device.hpp"
#include "kernels/emu/half.hpp"
#include "kernels/emu/intrinsics.hpp"
#include "kernels/emu/emulator.hpp"
