// One image of a device resize batch (kernels/resize.cu), as the host describes it: plain data in
// no build namespace, so that host code of the CUDA and the emulated build fills the same struct.
// The fields mirror img::ResamplePlan (engine/image/include/cuclip/image.hpp).
#pragma once
#include <cstdint>

namespace cuclip {

struct ResizeItem {
  int64_t src = 0;   // byte offset of the source window's first pixel in the batch's source buffer
  int64_t tmp = 0;   // byte offset of the intermediate image in the batch's tmp buffer
  int64_t taps = 0;  // int32 offset in the batch's taps buffer of, one after the other:
                     //   h_first[win_w], h_count[win_w], h_weights[win_w * ksize_h],
                     //   v_first[win_h], v_count[win_h], v_weights[win_h * ksize_v]
  int32_t src_w = 0, src_h = 0, src_stride = 0, channels = 3;  // stride in bytes; channels 1 or 3
  int32_t win_w = 0, win_h = 0, dst_x = 0, dst_y = 0;
  int32_t ksize_h = 0, ksize_v = 0, vertical_first = 0, fill = 0;
};

}  // namespace cuclip
