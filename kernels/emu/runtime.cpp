// The emulated implementation of cuclip::gpu (kernels/gpu.hpp): devices, memory, streams, events
// and graphs on top of the CPU emulator.
//
// Streams are in-order queues that execute each operation when it is enqueued: every operation has
// finished before the call returns, which is one legal schedule of CUDA's semantics (work on a
// stream runs in order; nothing promises overlap). An operation's error is returned by the call that
// enqueued it and kept for the next stream_synchronize / device_synchronize, where asynchronous
// errors appear on the GPU. While a stream captures, operations are recorded instead, and a graph
// launch replays the recording in order.
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <vector>

#include "kernels/emu/internal.hpp"
#include "kernels/gpu.hpp"

namespace cuclip::emu {

using Operation = std::function<Status()>;

struct StreamState {
  bool capturing = false;
  bool capture_invalidated = false;  // an illegal call during capture, as CUDA invalidates it
  std::vector<Operation> recorded;
  Status pending;  // first unreported error
};

struct EventState {
  bool recorded = false;
  double ms = 0;  // host clock when the event's work completed
};

namespace {

std::mutex g_mu;
StreamState g_default_stream;
Status g_device_pending;

StreamState* resolve(cudaStream_t s) { return s ? s : &g_default_stream; }

double now_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace

Status detail::enqueue_operation(cudaStream_t stream, Operation op) {
  StreamState* s = resolve(stream);
  {
    std::lock_guard<std::mutex> lock(g_mu);
    if (s->capturing) {
      s->recorded.push_back(std::move(op));
      return Status::Ok();
    }
  }
  Status r = op();
  if (!r.ok()) {
    std::lock_guard<std::mutex> lock(g_mu);
    if (s->pending.ok()) s->pending = r;
    if (g_device_pending.ok()) g_device_pending = r;
  }
  return r;
}

namespace {
Status capture_error(const char* call) {
  return Err(CUCLIP_ERR_DEVICE, std::string(call) + ": not allowed while the stream is capturing (cudaErrorStreamCaptureUnsupported)");
}

}  // namespace

// Configuration errors are returned by the launch only, as cudaLaunchKernel returns them; errors
// while the kernel runs are also kept for the next synchronize, where the GPU reports them.
Status launch_kernel(cudaStream_t stream, const KernelLaunch& launch) {
  CUCLIP_TRY(detail::validate_launch(launch));
  return detail::enqueue_operation(stream, [launch] { return run_kernel(launch); });
}

}  // namespace cuclip::emu

namespace cuclip::gpu::inline emu_build {

using emu::resolve;
using emu::detail::enqueue_operation;

struct GraphState {
  std::vector<emu::Operation> ops;
};

int device_count() {
  static const int n = [] {
    const char* e = std::getenv("CUCLIP_EMU_DEVICES");
    const int v = e ? std::atoi(e) : 1;
    return v >= 1 && v <= 16 ? v : 1;
  }();
  return n;
}

Status set_device(int index) {
  if (index < 0 || index >= device_count())
    return Err(CUCLIP_ERR_DEVICE, "set_device: cudaErrorInvalidDevice: device " + std::to_string(index) + " of " +
                                      std::to_string(device_count()) + " (CUCLIP_EMU_DEVICES)");
  return Status::Ok();
}

Status device_info(DeviceInfo* out) {
  out->name = "cuclip emulator";
  out->sm_major = 9;
  out->sm_minor = 0;
  out->sm_count = 132;
  out->smem_per_block = 49152;
  out->smem_per_block_optin = 232448;
  long pages = sysconf(_SC_PHYS_PAGES);
  out->global_mem_bytes = pages > 0 ? static_cast<size_t>(pages) * emu::detail::page_size() : 0;
  out->emulated = true;
  return Status::Ok();
}

Status device_synchronize() {
  std::lock_guard<std::mutex> lock(emu::g_mu);
  Status r = emu::g_device_pending;
  emu::g_device_pending = Status::Ok();
  emu::g_default_stream.pending = Status::Ok();
  return r;
}

Status device_alloc(void** out, size_t bytes) { return emu::detail::device_alloc(out, bytes); }
Status device_free(void* ptr) { return emu::detail::device_free(ptr); }

Status host_alloc_pinned(void** out, size_t bytes) {
  *out = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  return *out || bytes == 0 ? Status::Ok() : Err(CUCLIP_ERR_OUT_OF_MEMORY, "host_alloc_pinned: " + std::to_string(bytes) + " bytes");
}
Status host_free_pinned(void* ptr) {
  std::free(ptr);
  return Status::Ok();
}

// Device ranges are checked when the copy is enqueued and again when it runs: a replayed graph may
// outlive an allocation it names, and copying from freed memory here would crash the host thread.
Status memcpy_h2d(void* dst, const void* src, size_t bytes, Stream stream) {
  auto op = [=] {
    CUCLIP_TRY(emu::detail::check_device_range(dst, bytes, "memcpy_h2d destination"));
    std::memcpy(dst, src, bytes);
    return Status::Ok();
  };
  CUCLIP_TRY(emu::detail::check_device_range(dst, bytes, "memcpy_h2d destination"));
  return enqueue_operation(stream, op);
}
Status memcpy_d2h(void* dst, const void* src, size_t bytes, Stream stream) {
  auto op = [=] {
    CUCLIP_TRY(emu::detail::check_device_range(src, bytes, "memcpy_d2h source"));
    std::memcpy(dst, src, bytes);
    return Status::Ok();
  };
  CUCLIP_TRY(emu::detail::check_device_range(src, bytes, "memcpy_d2h source"));
  return enqueue_operation(stream, op);
}
Status memcpy_d2d(void* dst, const void* src, size_t bytes, Stream stream) {
  auto check = [=] {
    CUCLIP_TRY(emu::detail::check_device_range(src, bytes, "memcpy_d2d source"));
    return emu::detail::check_device_range(dst, bytes, "memcpy_d2d destination");
  };
  CUCLIP_TRY(check());
  return enqueue_operation(stream, [=] {
    CUCLIP_TRY(check());
    std::memmove(dst, src, bytes);
    return Status::Ok();
  });
}
Status memset(void* dst, int byte_value, size_t bytes, Stream stream) {
  auto op = [=] {
    CUCLIP_TRY(emu::detail::check_device_range(dst, bytes, "memset destination"));
    std::memset(dst, byte_value, bytes);
    return Status::Ok();
  };
  CUCLIP_TRY(emu::detail::check_device_range(dst, bytes, "memset destination"));
  return enqueue_operation(stream, op);
}

Status stream_create(Stream* out) {
  *out = new emu::StreamState;
  return Status::Ok();
}
Status stream_destroy(Stream stream) {
  if (!stream) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "stream_destroy: the default stream cannot be destroyed");
  delete stream;
  return Status::Ok();
}
Status stream_synchronize(Stream stream) {
  emu::StreamState* s = resolve(stream);
  std::lock_guard<std::mutex> lock(emu::g_mu);
  if (s->capturing) {
    s->capture_invalidated = true;
    return emu::capture_error("stream_synchronize");
  }
  Status r = s->pending;
  s->pending = Status::Ok();
  if (!r.ok() && emu::g_device_pending.message == r.message) emu::g_device_pending = Status::Ok();
  return r;
}
// Every operation has completed when its call returns, so there is nothing to wait for.
Status stream_wait_event(Stream, Event event) {
  if (!event) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "stream_wait_event: null event");
  return Status::Ok();
}

Status event_create(Event* out) {
  *out = new emu::EventState;
  return Status::Ok();
}
Status event_destroy(Event event) {
  delete event;
  return Status::Ok();
}
Status event_record(Event event, Stream stream) {
  if (!event) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "event_record: null event");
  return enqueue_operation(stream, [event] {
    event->recorded = true;
    event->ms = emu::now_ms();
    return Status::Ok();
  });
}
Status event_synchronize(Event event) {
  if (!event) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "event_synchronize: null event");
  return Status::Ok();
}
Status event_elapsed_ms(Event start, Event end, float* ms) {
  if (!start || !end) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "event_elapsed_ms: null event");
  if (!start->recorded || !end->recorded) {
    return Err(CUCLIP_ERR_DEVICE, "event_elapsed_ms: an event has not been recorded (cudaErrorInvalidResourceHandle)");
  }
  *ms = static_cast<float>(end->ms - start->ms);
  return Status::Ok();
}

Status begin_capture(Stream stream) {
  if (!stream) {
    return Err(CUCLIP_ERR_DEVICE, "begin_capture: the legacy default stream cannot be captured (cudaErrorStreamCaptureUnsupported)");
  }
  std::lock_guard<std::mutex> lock(emu::g_mu);
  if (stream->capturing) return emu::capture_error("begin_capture");
  stream->capturing = true;
  stream->capture_invalidated = false;
  stream->recorded.clear();
  return Status::Ok();
}
Status end_capture(Stream stream, Graph* out) {
  *out = nullptr;
  if (!stream) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "end_capture: null stream");
  std::lock_guard<std::mutex> lock(emu::g_mu);
  if (!stream->capturing) return Err(CUCLIP_ERR_DEVICE, "end_capture: the stream is not capturing (cudaErrorIllegalState)");
  stream->capturing = false;
  if (stream->capture_invalidated) {
    stream->recorded.clear();
    return Err(CUCLIP_ERR_DEVICE, "end_capture: the capture was invalidated by an illegal call during it (cudaErrorStreamCaptureInvalidated)");
  }
  *out = new GraphState{std::move(stream->recorded)};
  stream->recorded.clear();
  return Status::Ok();
}
Status graph_launch(Graph graph, Stream stream) {
  if (!graph) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "graph_launch: null graph");
  return enqueue_operation(stream, [graph] {
    for (const emu::Operation& op : graph->ops) CUCLIP_TRY(op());
    return Status::Ok();
  });
}
Status graph_destroy(Graph graph) {
  delete graph;
  return Status::Ok();
}

}  // namespace cuclip::gpu::inline emu_build
