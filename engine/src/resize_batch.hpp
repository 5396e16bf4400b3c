// The host side of a device resize batch (kernels/resize.cu): where each image's description, taps
// and source pixels go in the one buffer that is uploaded, and the code that writes them there.
// Laying out is serial and cheap (sizes only); writing an item touches only its own slices, so the
// decode threads write their items in parallel, straight into pinned memory.
//
//   staged (host, then device): ResizeItem[B] | int32 taps | uint8 source windows, each part
//                               16-byte aligned
//   tmp (device only):          the intermediate images, one after the other
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "cuclip/image.hpp"
#include "kernels/resize_item.hpp"

namespace cuclip {

inline size_t align16(size_t n) { return (n + 15) / 16 * 16; }

inline size_t resize_taps_ints(const img::ResamplePlan& p) {
  return (size_t)p.win_w * (2 + p.h.ksize) + (size_t)p.win_h * (2 + p.v.ksize);
}
inline size_t resize_src_bytes(const img::ResamplePlan& p) { return (size_t)p.src_w * p.src_h * p.channels; }

struct ResizeBatchLayout {
  size_t taps_off = 0, src_off = 0, staged_bytes = 0, tmp_bytes = 0;
  int64_t max_pass1 = 0;
  std::vector<ResizeItem> items;  // offsets filled in; the rest by write_resize_item

  int count() const { return (int)items.size(); }

  // Whether staged + tmp bytes stay within budget with p appended.
  bool fits(const img::ResamplePlan& p, size_t budget) const {
    return staged_size(items.size() + 1, taps_ints_ + resize_taps_ints(p), align16(src_bytes_) + resize_src_bytes(p)) +
               tmp_bytes + align16(p.tmp_bytes()) <=
           budget;
  }

  // Appends one image; its taps and pixels go after the previous ones.
  void add(const img::ResamplePlan& p) {
    ResizeItem it;
    it.taps = (int64_t)taps_ints_;
    it.src = (int64_t)align16(src_bytes_);
    it.tmp = (int64_t)tmp_bytes;
    items.push_back(it);
    taps_ints_ += resize_taps_ints(p);
    src_bytes_ = (size_t)it.src + resize_src_bytes(p);
    tmp_bytes += align16(p.tmp_bytes());
    max_pass1 = std::max<int64_t>(max_pass1, (int64_t)p.tmp_bytes());
    taps_off = align16(sizeof(ResizeItem) * items.size());
    src_off = taps_off + align16(taps_ints_ * sizeof(int32_t));
    staged_bytes = staged_size(items.size(), taps_ints_, src_bytes_);
  }

 private:
  static size_t staged_size(size_t n_items, size_t taps_ints, size_t src_bytes) {
    return align16(sizeof(ResizeItem) * n_items) + align16(taps_ints * sizeof(int32_t)) + align16(src_bytes);
  }
  size_t taps_ints_ = 0, src_bytes_ = 0;  // the taps and source windows laid out so far
};

// Writes item b of the layout into staged (laid out as above): its description, its taps and its
// source window, read from src (the window's first pixel, rows `stride` bytes apart).
inline void write_resize_item(const ResizeBatchLayout& L, int b, const img::ResamplePlan& p, const uint8_t* src,
                              size_t stride, uint8_t* staged) {
  ResizeItem it = L.items[(size_t)b];
  it.src_w = p.src_w;
  it.src_h = p.src_h;
  it.src_stride = p.src_w * p.channels;
  it.channels = p.channels;
  it.win_w = p.win_w;
  it.win_h = p.win_h;
  it.dst_x = p.dst_x;
  it.dst_y = p.dst_y;
  it.ksize_h = p.h.ksize;
  it.ksize_v = p.v.ksize;
  it.vertical_first = p.vertical_first ? 1 : 0;
  it.fill = p.fill;
  std::memcpy(staged + sizeof(ResizeItem) * (size_t)b, &it, sizeof it);
  int32_t* t = reinterpret_cast<int32_t*>(staged + L.taps_off) + it.taps;
  for (const img::ResamplePlan::Taps* a : {&p.h, &p.v}) {
    t = std::copy(a->first.begin(), a->first.end(), t);
    t = std::copy(a->count.begin(), a->count.end(), t);
    t = std::copy(a->weights.begin(), a->weights.end(), t);
  }
  uint8_t* s = staged + L.src_off + it.src;
  const size_t row = (size_t)it.src_stride;
  for (int y = 0; y < p.src_h; ++y) std::memcpy(s + (size_t)y * row, src + (size_t)y * stride, row);
}

// The first pixel of the plan's source window in an image whose rows are `stride` bytes apart.
inline const uint8_t* resize_source(const uint8_t* px, size_t stride, const img::ResamplePlan& p) {
  return px + (size_t)p.src_y0 * stride + (size_t)p.src_x0 * p.channels;
}

// write_resize_item for the decoded image the plan was made for.
inline void write_resize_item(const ResizeBatchLayout& L, int b, const img::ResamplePlan& p, const img::Image& im,
                              uint8_t* staged) {
  const size_t stride = (size_t)im.width * p.channels;
  write_resize_item(L, b, p, resize_source(im.pixels.data(), stride, p), stride, staged);
}

}  // namespace cuclip
