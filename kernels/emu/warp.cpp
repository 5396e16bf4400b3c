// Warp-collective operations of the emulator: __syncwarp, shuffles, votes, ldmatrix, mma.sync and
// cp.async. A lane that calls one parks until every lane of its mask has arrived; the last to arrive
// checks that all of them agree (same operation, same mask) and computes every lane's result at once,
// following the PTX ISA's definitions (shfl.sync's segment/clamp rules, the ldmatrix and mma.m16n8k16
// fragment layouts), so a kernel that indexes fragments wrongly gets wrong numbers, as on the GPU.
#include <cstdio>
#include <cstring>
#include <string>

#include "kernels/emu/half.hpp"
#include "kernels/emu/internal.hpp"

namespace cuclip::emu::detail {

namespace {

std::string hex32(unsigned v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

std::string op_name(const WarpOp& op) {
  switch (op.kind) {
    case WarpOpKind::syncwarp: return "__syncwarp";
    case WarpOpKind::shfl: {
      static const char* names[] = {"__shfl_sync", "__shfl_up_sync", "__shfl_down_sync", "__shfl_xor_sync"};
      return names[static_cast<int>(op.shfl_mode)];
    }
    case WarpOpKind::vote: {
      static const char* names[] = {"__ballot_sync", "__all_sync", "__any_sync"};
      return names[static_cast<int>(op.vote_kind)];
    }
    case WarpOpKind::ldmatrix: return "ldmatrix";
    case WarpOpKind::mma: return "mma.m16n8k16";
  }
  return "warp operation";
}

}  // namespace

std::string describe_op(const WarpOp& op) {
  return op_name(op) + "(mask " + hex32(op.mask) + ") at " + describe_loc(op.loc);
}

namespace {

// Lanes of the caller's warp named in mask must exist and not have exited; the caller must be in it.
void check_mask(const Fiber& self, unsigned mask, const WarpOp& op) {
  const Block& b = *tl_block;
  const WarpLanes& w = b.warps[self.warp];
  if (!(mask >> self.lane & 1u)) {
    fail_block(describe_thread(self) + " calls " + describe_op(op) + ", a mask without its own lane " +
               std::to_string(self.lane));
  }
  if (unsigned missing = mask & ~w.exists) {
    fail_block(describe_thread(self) + " calls " + describe_op(op) + " naming lane " +
               std::to_string(__builtin_ctz(missing)) + ", which does not exist (the block has " +
               std::to_string(b.n) + " threads)");
  }
  if (unsigned gone = mask & w.exited) {
    fail_block(describe_thread(self) + " calls " + describe_op(op) + " naming lane " +
               std::to_string(__builtin_ctz(gone)) + ", which has exited");
  }
}

bool same_operation(const WarpOp& a, const WarpOp& b) {
  if (a.kind != b.kind || a.mask != b.mask) return false;
  switch (a.kind) {
    case WarpOpKind::shfl: return a.shfl_mode == b.shfl_mode && a.width == b.width;
    case WarpOpKind::vote: return a.vote_kind == b.vote_kind;
    case WarpOpKind::ldmatrix: return a.num == b.num && a.trans == b.trans;
    case WarpOpKind::mma: return a.mma_type == b.mma_type;
    case WarpOpKind::syncwarp: return true;
  }
  return false;
}

Fiber& lane_fiber(const Fiber& self, int lane) { return tl_block->worker->fibers[self.warp * 32 + lane]; }

void complete_shfl(Fiber& self) {
  unsigned mask = self.op.mask;
  int width = self.op.width;
  // PTX shfl.sync: c packs the segment mask (32 - width) << 8 and the clamp (31, or 0 for .up).
  unsigned segmask = static_cast<unsigned>(32 - width) & 31u;
  for (int lane = 0; lane < 32; ++lane) {
    if (!(mask >> lane & 1u)) continue;
    WarpOp& op = lane_fiber(self, lane).op;
    unsigned b = static_cast<unsigned>(op.shfl_arg) & 31u;
    unsigned clamp = op.shfl_mode == ShflMode::up ? 0u : 31u;
    int max_lane = static_cast<int>((lane & segmask) | (clamp & ~segmask));
    int min_lane = static_cast<int>(lane & segmask);
    int j = lane;
    bool in_range = false;
    switch (op.shfl_mode) {
      case ShflMode::up: j = lane - static_cast<int>(b); in_range = j >= max_lane; break;
      case ShflMode::down: j = lane + static_cast<int>(b); in_range = j <= max_lane; break;
      case ShflMode::bfly: j = lane ^ static_cast<int>(b); in_range = j <= max_lane; break;
      case ShflMode::idx: j = min_lane | static_cast<int>(b & ~segmask); in_range = j <= max_lane; break;
    }
    if (!in_range) j = lane;
    if (!(mask >> j & 1u)) {
      fail_block(describe_thread(lane_fiber(self, lane)) + " at " + describe_op(op) + " reads lane " +
                 std::to_string(j) + ", which is not in the mask");
    }
    op.result = lane_fiber(self, j).op.value;
  }
}

void complete_vote(Fiber& self) {
  unsigned mask = self.op.mask, ballot = 0;
  for (int lane = 0; lane < 32; ++lane)
    if ((mask >> lane & 1u) && lane_fiber(self, lane).op.value != 0) ballot |= 1u << lane;
  uint64_t result = ballot;
  if (self.op.vote_kind == VoteKind::all) result = ballot == mask;
  if (self.op.vote_kind == VoteKind::any) result = ballot != 0;
  for (int lane = 0; lane < 32; ++lane)
    if (mask >> lane & 1u) lane_fiber(self, lane).op.result = result;
}

void complete_ldmatrix(Fiber& self) {
  int num = self.op.num;
  uint16_t rows[4][8][8];
  for (int m = 0; m < num; ++m) {
    for (int r = 0; r < 8; ++r) {
      const Fiber& src = lane_fiber(self, m * 8 + r);
      if (reinterpret_cast<uintptr_t>(src.op.address) % 16 != 0) {
        fail_block(describe_thread(src) + " at " + describe_op(src.op) +
                   ": row address is not 16-byte aligned (misaligned address on the GPU)");
      }
      std::memcpy(rows[m][r], src.op.address, 16);
    }
  }
  for (int lane = 0; lane < 32; ++lane) {
    WarpOp& op = lane_fiber(self, lane).op;
    for (int m = 0; m < num; ++m) {
      uint16_t lo, hi;
      if (!self.op.trans) {
        lo = rows[m][lane / 4][2 * (lane % 4)];
        hi = rows[m][lane / 4][2 * (lane % 4) + 1];
      } else {
        lo = rows[m][2 * (lane % 4)][lane / 4];
        hi = rows[m][2 * (lane % 4) + 1][lane / 4];
      }
      op.out[m] = static_cast<uint32_t>(lo) | (static_cast<uint32_t>(hi) << 16);
    }
  }
}

float fragment_value(MmaType type, uint32_t reg, int half) {
  auto bits = static_cast<unsigned short>(half ? reg >> 16 : reg & 0xffffu);
  return type == MmaType::f16 ? f16_to_f32(bits) : bf16_to_f32(bits);
}

// Gathers the warp's fragments into A (16x16), B (16x8), C (16x8) with the PTX ISA's layouts,
// multiplies, and scatters D. Products of two f16/bf16 values are exact in f32; they are added to
// C one k at a time, k = 0..15, each addition rounded to f32 (documented in docs/emulation.md).
void complete_mma(Fiber& self) {
  MmaType type = self.op.mma_type;
  float A[16][16], B[16][8], C[16][8];
  for (int lane = 0; lane < 32; ++lane) {
    const WarpOp& op = lane_fiber(self, lane).op;
    int g = lane / 4, t = lane % 4;
    for (int h = 0; h < 2; ++h) {
      A[g][2 * t + h] = fragment_value(type, op.a[0], h);
      A[g + 8][2 * t + h] = fragment_value(type, op.a[1], h);
      A[g][2 * t + 8 + h] = fragment_value(type, op.a[2], h);
      A[g + 8][2 * t + 8 + h] = fragment_value(type, op.a[3], h);
      B[2 * t + h][g] = fragment_value(type, op.b[0], h);
      B[2 * t + 8 + h][g] = fragment_value(type, op.b[1], h);
      C[g][2 * t + h] = op.c[h];
      C[g + 8][2 * t + h] = op.c[2 + h];
    }
  }
  float D[16][8];
  for (int i = 0; i < 16; ++i) {
    for (int j = 0; j < 8; ++j) {
      float acc = C[i][j];
      for (int k = 0; k < 16; ++k) acc += A[i][k] * B[k][j];
      D[i][j] = acc;
    }
  }
  for (int lane = 0; lane < 32; ++lane) {
    const WarpOp& op = lane_fiber(self, lane).op;
    int g = lane / 4, t = lane % 4;
    op.d[0] = D[g][2 * t];
    op.d[1] = D[g][2 * t + 1];
    op.d[2] = D[g + 8][2 * t];
    op.d[3] = D[g + 8][2 * t + 1];
  }
}

// The common path of every warp-collective operation; self.op is filled in.
void warp_collective(Fiber& self) {
  WarpOp& op = self.op;
  check_mask(self, op.mask, op);
  WarpLanes& w = tl_block->warps[self.warp];
  const unsigned self_bit = 1u << self.lane;
  if (((w.waiting | self_bit) & op.mask) != op.mask) {
    self.state = FiberState::at_warp_op;
    w.waiting |= self_bit;
    park(self);  // the last lane to arrive completes the operation for everyone
    return;
  }
  for (int lane = 0; lane < 32; ++lane) {
    if (!(op.mask >> lane & 1u)) continue;
    const Fiber& other = lane_fiber(self, lane);
    if (!same_operation(other.op, op)) {
      fail_block("warp " + std::to_string(self.warp) + " diverged: " + describe_thread(self) + " is at " +
                 describe_op(op) + " but " + describe_thread(other) + " is at " + describe_op(other.op));
    }
  }
  switch (op.kind) {
    case WarpOpKind::shfl: complete_shfl(self); break;
    case WarpOpKind::vote: complete_vote(self); break;
    case WarpOpKind::ldmatrix: complete_ldmatrix(self); break;
    case WarpOpKind::mma: complete_mma(self); break;
    case WarpOpKind::syncwarp: break;
  }
  w.waiting &= ~op.mask;
  for (int lane = 0; lane < 32; ++lane) {
    if (!(op.mask >> lane & 1u) || lane == self.lane) continue;
    Fiber& other = lane_fiber(self, lane);
    other.state = FiberState::runnable;
    push_runnable(*tl_block, other.index);
  }
}

}  // namespace

}  // namespace cuclip::emu::detail

namespace cuclip::emu {
using namespace detail;

void syncwarp(unsigned mask, const std::source_location& loc) {
  Fiber* self = tl_fiber;
  if (!self) return;
  self->op.kind = WarpOpKind::syncwarp;
  self->op.mask = mask;
  self->op.loc = loc;
  warp_collective(*self);
}

uint64_t shfl(unsigned mask, uint64_t value, ShflMode mode, int lane_or_delta, int width, const std::source_location& loc) {
  Fiber* self = tl_fiber;
  if (!self) return value;
  self->op.kind = WarpOpKind::shfl;
  self->op.mask = mask;
  self->op.loc = loc;
  self->op.shfl_mode = mode;
  self->op.shfl_arg = lane_or_delta;
  self->op.width = width;
  self->op.value = value;
  if (width < 1 || width > 32 || (width & (width - 1)) != 0) {
    fail_block(describe_thread(*self) + " calls " + describe_op(self->op) + " with width " + std::to_string(width) +
               ", not a power of two in [1, 32]");
  }
  warp_collective(*self);
  return self->op.result;
}

unsigned vote(unsigned mask, VoteKind kind, int predicate, const std::source_location& loc) {
  Fiber* self = tl_fiber;
  if (!self) return 0;
  self->op.kind = WarpOpKind::vote;
  self->op.mask = mask;
  self->op.loc = loc;
  self->op.vote_kind = kind;
  self->op.value = predicate != 0;
  warp_collective(*self);
  return static_cast<unsigned>(self->op.result);
}

unsigned activemask() {
  Fiber* self = tl_fiber;
  if (!self) return 0;
  const WarpLanes& w = tl_block->warps[self->warp];
  return w.exists & ~w.exited;
}

void ldmatrix(int num, bool trans, const void* row_address, uint32_t* out, const std::source_location& loc) {
  Fiber* self = tl_fiber;
  if (!self) return;
  self->op.kind = WarpOpKind::ldmatrix;
  self->op.mask = 0xffffffffu;  // .aligned: the whole warp executes it together
  self->op.loc = loc;
  self->op.num = num;
  self->op.trans = trans;
  self->op.address = row_address;
  self->op.out = out;
  warp_collective(*self);
}

void mma_m16n8k16(MmaType type, const uint32_t* a, const uint32_t* b, const float* c, float* d,
                  const std::source_location& loc) {
  Fiber* self = tl_fiber;
  if (!self) return;
  self->op.kind = WarpOpKind::mma;
  self->op.mask = 0xffffffffu;
  self->op.loc = loc;
  self->op.mma_type = type;
  self->op.a = a;
  self->op.b = b;
  self->op.c = c;
  self->op.d = d;
  warp_collective(*self);
}

void cp_async(void* smem, const void* gmem, int bytes, int src_bytes, const std::source_location& loc) {
  Fiber* self = tl_fiber;
  if (!self) return;
  if (reinterpret_cast<uintptr_t>(smem) % static_cast<uintptr_t>(bytes) != 0 ||
      reinterpret_cast<uintptr_t>(gmem) % static_cast<uintptr_t>(bytes) != 0) {
    fail_block(describe_thread(*self) + " at cp.async (" + describe_loc(loc) + "): addresses must be " +
               std::to_string(bytes) + "-byte aligned (misaligned address on the GPU)");
  }
  if (src_bytes < 0 || src_bytes > bytes) {
    fail_block(describe_thread(*self) + " at cp.async (" + describe_loc(loc) + "): source size " +
               std::to_string(src_bytes) + " outside [0, " + std::to_string(bytes) + "]");
  }
  self->cp_pending.push_back(CpAsyncCopy{smem, gmem, bytes, src_bytes});
}

void cp_async_commit() {
  Fiber* self = tl_fiber;
  if (!self) return;
  self->cp_group_ends.push_back(self->cp_pending.size());
}

void cp_async_wait(int pending_groups_allowed, const std::source_location&) {
  Fiber* self = tl_fiber;
  if (!self) return;
  auto groups = static_cast<int>(self->cp_group_ends.size());
  if (groups <= pending_groups_allowed) return;
  size_t retire = static_cast<size_t>(groups - pending_groups_allowed);
  size_t end = self->cp_group_ends[retire - 1];
  for (size_t i = 0; i < end; ++i) {
    const CpAsyncCopy& c = self->cp_pending[i];
    if (c.src_bytes > 0) std::memcpy(c.dst, c.src, static_cast<size_t>(c.src_bytes));
    std::memset(static_cast<char*>(c.dst) + c.src_bytes, 0, static_cast<size_t>(c.bytes - c.src_bytes));
  }
  self->cp_pending.erase(self->cp_pending.begin(), self->cp_pending.begin() + static_cast<ptrdiff_t>(end));
  self->cp_group_ends.erase(self->cp_group_ends.begin(), self->cp_group_ends.begin() + static_cast<ptrdiff_t>(retire));
  for (size_t& e : self->cp_group_ends) e -= end;
}

}  // namespace cuclip::emu
