// Launchers of kernels/resize.cu, for host code (either build; see kernels/gpu.hpp).
#pragma once
#include <cstdint>

#include "kernels/gpu.hpp"
#include "kernels/resize_item.hpp"

namespace cuclip::kernels::inline CUCLIP_BUILD_NS {

// rgb[b] (uint8 [S, S, 3] interleaved) = image b resized, cropped (or padded) and converted to
// RGB exactly as img::preprocess_u8, for the B images of items[B] (device): each reads its
// source window from src, its taps from taps and uses tmp as its intermediate image. max_pass1 is
// the largest src_w * win_h (vertical pass first) or win_w * src_h (horizontal first) times
// channels over the items: the first pass's grid is sized by it.
Status resize_crop_forward(int B, int S, const ResizeItem* items, int64_t max_pass1, const int32_t* taps,
                           const uint8_t* src, uint8_t* tmp, uint8_t* rgb, cudaStream_t stream);

}  // namespace cuclip::kernels::inline CUCLIP_BUILD_NS
