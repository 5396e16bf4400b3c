// CUDA graphs for the GPU backend's small-batch forwards (included by gpu_backend.cpp, so compiled
// once per build like it).
//
// At small batches a forward is launch-bound: ~10 kernels and GEMMs per layer, each a few
// microseconds of host work. A forward's device work is fixed by its shape (tower, batch and, for
// text, the packed lengths), so a shape seen a second time is captured into a graph and later
// forwards of that shape replay it with one launch. Host inputs reach the graph through the
// backend's pinned staging buffers, which the copies inside the graph read when it runs: a replayed
// forward still runs each op's host side (filling the staging) and only skips enqueuing device work.
//
// Per forward, begin() picks the mode from the shape; every op hands its device work to run():
//   Eager      run it now (first sight of a shape, large batches, shapes that failed to capture);
//   Recording  keep it; finish() captures the whole forward into a graph, then launches it (ops are
//              captured only once the forward is complete, so a capture that fails can still run
//              the same ops eagerly: the caller never sees a capture problem);
//   Replaying  skip it: finish() launches the stored graph.
#pragma once
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/log.hpp"
#include "kernels/gpu.hpp"

namespace cuclip {
// Internal linkage: gpu_backend.cpp is compiled once per build, and the two copies of this class
// (calling the emulated or the CUDA cuclip::gpu) must not be merged when both builds are linked.
namespace {

class ForwardGraphs {
 public:
  enum class Mode { Eager, Recording, Replaying };
  static constexpr int kMaxBatch = 32;     // above this, launches are a negligible share of a forward
  static constexpr size_t kMaxGraphs = 64; // distinct shapes kept (text lengths vary); then eager
  static constexpr size_t kMaxSeen = 4096; // shapes remembered while waiting for a second sight

  ForwardGraphs() = default;
  ForwardGraphs(const ForwardGraphs&) = delete;
  ForwardGraphs& operator=(const ForwardGraphs&) = delete;
  ~ForwardGraphs() { clear(); }

  // Drops every graph (their kernels' arguments point into a workspace about to be freed).
  void clear() {
    for (auto& [key, g] : graphs_) (void)gpu::graph_destroy(g);
    graphs_.clear();
    seen_.clear();
    failed_.clear();
    recorded_.clear();
    mode_ = Mode::Eager;
  }

  // Off: every forward runs eagerly (CUCLIP_GPU_GRAPHS=0, to measure what the graphs save).
  void set_enabled(bool on) { enabled_ = on; }

  // The start of a forward of shape `key` over `batch` items.
  void begin(const std::vector<int>& key, int batch) {
    recorded_.clear();
    mode_ = Mode::Eager;
    if (!enabled_ || batch > kMaxBatch || failed_.count(key)) return;
    if (auto it = graphs_.find(key); it != graphs_.end()) {
      mode_ = Mode::Replaying;
      current_ = it->second;
      return;
    }
    if (graphs_.size() >= kMaxGraphs) return;
    if (seen_.size() >= kMaxSeen) seen_.clear();
    if (++seen_[key] >= 2) {
      mode_ = Mode::Recording;
      key_ = key;
    }
  }

  Mode mode() const { return mode_; }

  // One op's device work (a callable returning Status), per the mode.
  template <class F>
  Status run(F&& work) {
    if (mode_ == Mode::Eager) return work();
    if (mode_ == Mode::Recording) recorded_.emplace_back(std::forward<F>(work));
    return Status::Ok();
  }

  // The end of the forward, after its last op: everything is enqueued on `stream` when it returns.
  Status finish(gpu::Stream stream) {
    const Mode m = mode_;
    mode_ = Mode::Eager;
    if (m == Mode::Replaying) return gpu::graph_launch(current_, stream);
    if (m == Mode::Eager) return Status::Ok();
    gpu::Graph g = nullptr;
    Status s = capture(stream, &g);
    if (s.ok()) {
      graphs_.emplace(key_, g);
      recorded_.clear();
      return gpu::graph_launch(g, stream);
    }
    failed_.insert(key_);  // never try this shape again; run what was recorded as usual
    log_message(CUCLIP_LOG_WARN, "CUDA graph capture of a forward (batch " + std::to_string(key_.size() > 1 ? key_[1] : 0) +
                                     ") failed; this shape runs without graphs from now on: " + s.message);
    for (auto& op : recorded_) {
      s = op();
      if (!s.ok()) break;
    }
    recorded_.clear();
    return s;
  }

 private:
  Status capture(gpu::Stream stream, gpu::Graph* out) {
    CUCLIP_TRY(gpu::begin_capture(stream));
    Status s;
    for (auto& op : recorded_) {
      s = op();
      if (!s.ok()) break;
    }
    gpu::Graph g = nullptr;
    const Status ended = gpu::end_capture(stream, &g);  // always: it takes the stream out of capture
    if (s.ok()) s = ended;
    if (!s.ok()) {
      if (g) (void)gpu::graph_destroy(g);
      return s;
    }
    *out = g;
    return Status::Ok();
  }

  Mode mode_ = Mode::Eager;
  bool enabled_ = true;
  std::map<std::vector<int>, gpu::Graph> graphs_;
  std::map<std::vector<int>, int> seen_;
  std::set<std::vector<int>> failed_;
  std::vector<int> key_;            // the shape being recorded
  gpu::Graph current_ = nullptr;    // the graph being replayed
  std::vector<std::function<Status()>> recorded_;
};

}  // namespace
}  // namespace cuclip
