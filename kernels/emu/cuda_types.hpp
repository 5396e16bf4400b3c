// The CUDA runtime types as the CPU emulator defines them: dim3, uint3 and the vector types,
// cudaError_t, cudaStream_t/cudaEvent_t, and the few runtime calls that kernel files make
// (cudaFuncSetAttribute, cudaGetLastError). Nothing here needs the CUDA toolkit.
//
// Everything lives in cuclip::emu and is brought into the global namespace with using-declarations,
// so kernel sources spell the CUDA names, while the symbols stay distinct from libcudart's: one
// binary may link both the emulated and the real build.
#pragma once
#include <cstddef>
#include <cstdint>

namespace cuclip::emu {

struct uint3 { unsigned int x, y, z; };

struct dim3 {
  unsigned int x = 1, y = 1, z = 1;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return uint3{x, y, z}; }
};

// Vector types with CUDA's sizes and alignments (float4 loads must be 16-byte aligned on the GPU;
// keeping the alignment here keeps struct layouts identical in both builds).
#define CUCLIP_EMU_VEC2(T, name, align)                                              \
  struct alignas(align) name { T x, y; };                                            \
  constexpr name make_##name(T x, T y) { return name{x, y}; }
#define CUCLIP_EMU_VEC3(T, name)                                                     \
  struct name { T x, y, z; };                                                        \
  constexpr name make_##name(T x, T y, T z) { return name{x, y, z}; }
#define CUCLIP_EMU_VEC4(T, name, align)                                              \
  struct alignas(align) name { T x, y, z, w; };                                      \
  constexpr name make_##name(T x, T y, T z, T w) { return name{x, y, z, w}; }

CUCLIP_EMU_VEC2(float, float2, 8)
CUCLIP_EMU_VEC3(float, float3)
CUCLIP_EMU_VEC4(float, float4, 16)
CUCLIP_EMU_VEC2(int, int2, 8)
CUCLIP_EMU_VEC3(int, int3)
CUCLIP_EMU_VEC4(int, int4, 16)
CUCLIP_EMU_VEC2(unsigned int, uint2, 8)
CUCLIP_EMU_VEC4(unsigned int, uint4, 16)
CUCLIP_EMU_VEC2(double, double2, 16)
CUCLIP_EMU_VEC2(short, short2, 4)
CUCLIP_EMU_VEC2(unsigned short, ushort2, 4)
CUCLIP_EMU_VEC4(signed char, char4, 4)
CUCLIP_EMU_VEC4(unsigned char, uchar4, 4)
CUCLIP_EMU_VEC2(long long, longlong2, 16)
CUCLIP_EMU_VEC2(unsigned long long, ulonglong2, 16)
constexpr uint3 make_uint3(unsigned int x, unsigned int y, unsigned int z) { return uint3{x, y, z}; }
#undef CUCLIP_EMU_VEC2
#undef CUCLIP_EMU_VEC3
#undef CUCLIP_EMU_VEC4

// The subset of cudaError_t the emulator returns; values are CUDA's.
enum cudaError {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorNotReady = 600,
  cudaErrorIllegalAddress = 700,
  cudaErrorMisalignedAddress = 716,
  cudaErrorLaunchFailure = 719,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorStreamCaptureInvalidated = 901,
  cudaErrorUnknown = 999,
};
using cudaError_t = cudaError;

enum cudaFuncAttribute {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
  cudaFuncAttributePreferredSharedMemoryCarveout = 9,
};

struct StreamState;  // an in-order queue (runtime.cpp)
struct EventState;
using cudaStream_t = StreamState*;
using cudaEvent_t = EventState*;

const char* error_name(cudaError_t e);
// Records an attribute for a kernel, keyed by its address; launches honour the dynamic shared
// memory opt-in exactly as the GPU does (above 48 KB only after this call).
cudaError_t set_func_attribute(const void* kernel, cudaFuncAttribute attr, int value);
// The error of the last failed launch on this host thread (cudaGetLastError semantics).
cudaError_t last_launch_error(bool clear);

template <class T>
cudaError_t cudaFuncSetAttribute(T* kernel, cudaFuncAttribute attr, int value) {
  return set_func_attribute(reinterpret_cast<const void*>(kernel), attr, value);
}
inline cudaError_t cudaGetLastError() { return last_launch_error(true); }
inline cudaError_t cudaPeekAtLastError() { return last_launch_error(false); }
inline const char* cudaGetErrorString(cudaError_t e) { return error_name(e); }
inline const char* cudaGetErrorName(cudaError_t e) { return error_name(e); }

}  // namespace cuclip::emu

using cuclip::emu::char4;
using cuclip::emu::cudaError;
using cuclip::emu::cudaError_t;
using cuclip::emu::cudaEvent_t;
using cuclip::emu::cudaFuncAttribute;
using cuclip::emu::cudaStream_t;
using cuclip::emu::dim3;
using cuclip::emu::double2;
using cuclip::emu::float2;
using cuclip::emu::float3;
using cuclip::emu::float4;
using cuclip::emu::int2;
using cuclip::emu::int3;
using cuclip::emu::int4;
using cuclip::emu::longlong2;
using cuclip::emu::short2;
using cuclip::emu::uchar4;
using cuclip::emu::uint2;
using cuclip::emu::uint3;
using cuclip::emu::uint4;
using cuclip::emu::ulonglong2;
using cuclip::emu::ushort2;
using cuclip::emu::make_char4;
using cuclip::emu::make_double2;
using cuclip::emu::make_float2;
using cuclip::emu::make_float3;
using cuclip::emu::make_float4;
using cuclip::emu::make_int2;
using cuclip::emu::make_int3;
using cuclip::emu::make_int4;
using cuclip::emu::make_longlong2;
using cuclip::emu::make_short2;
using cuclip::emu::make_uchar4;
using cuclip::emu::make_uint2;
using cuclip::emu::make_uint3;
using cuclip::emu::make_uint4;
using cuclip::emu::make_ulonglong2;
using cuclip::emu::make_ushort2;
using cuclip::emu::cudaSuccess;
using cuclip::emu::cudaErrorInvalidValue;
using cuclip::emu::cudaErrorMemoryAllocation;
using cuclip::emu::cudaErrorInvalidConfiguration;
using cuclip::emu::cudaErrorInvalidDevicePointer;
using cuclip::emu::cudaErrorNoDevice;
using cuclip::emu::cudaErrorInvalidResourceHandle;
using cuclip::emu::cudaErrorNotReady;
using cuclip::emu::cudaErrorIllegalAddress;
using cuclip::emu::cudaErrorMisalignedAddress;
using cuclip::emu::cudaErrorLaunchFailure;
using cuclip::emu::cudaErrorStreamCaptureUnsupported;
using cuclip::emu::cudaErrorStreamCaptureInvalidated;
using cuclip::emu::cudaErrorUnknown;
using cuclip::emu::cudaFuncAttributeMaxDynamicSharedMemorySize;
using cuclip::emu::cudaFuncAttributePreferredSharedMemoryCarveout;
using cuclip::emu::cudaFuncSetAttribute;
using cuclip::emu::cudaGetErrorName;
using cuclip::emu::cudaGetErrorString;
using cuclip::emu::cudaGetLastError;
using cuclip::emu::cudaPeekAtLastError;
