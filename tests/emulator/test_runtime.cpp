// The cuclip::gpu runtime: memory copies (and, emulated, their range checks), streams and events,
// graph capture and replay, device properties. Built for the GPU too (emulator_runtime_gpu); the
// emulator-only checks are under CUCLIP_EMU.
#include <cmath>

#include "emu_testing.hpp"
#include "kernels/example_reduce.hpp"

using namespace cuclip_test;

TEST_CASE("device_reports_its_properties", "[emulator][runtime]") {
  gpu::DeviceInfo info;
  REQUIRE_OK(gpu::device_info(&info));
  CHECK(gpu::device_count() >= 1);
  CHECK(info.sm_count > 0);
  CHECK(info.smem_per_block == 49152);
  CHECK(info.smem_per_block_optin >= info.smem_per_block);
#if defined(CUCLIP_EMU)
  CHECK(info.name == "cuclip emulator");
  CHECK(info.sm_major == 9);
  CHECK(info.sm_minor == 0);
  CHECK(info.smem_per_block_optin == 232448);
  CHECK(info.emulated);
#else
  CHECK_FALSE(info.emulated);
#endif
}

TEST_CASE("memcpy_and_memset_round_trip", "[emulator][runtime]") {
  CUCLIP_SEED_INFO();
  std::vector<float> host = random_floats(1000);
  DeviceBuffer<float> a(1000), b(1000);
  a.upload(host);
  REQUIRE_OK(gpu::memcpy_d2d(b.get(), a.get(), 1000 * sizeof(float), nullptr));
  REQUIRE(b.download() == host);
  REQUIRE_OK(gpu::memset(b.get() + 10, 0, 5 * sizeof(float), nullptr));
  std::vector<float> got = b.download();
  for (int i = 0; i < 1000; ++i) REQUIRE(got[i] == (i >= 10 && i < 15 ? 0.0f : host[i]));
}

#if defined(CUCLIP_EMU)
TEST_CASE("fresh_device_memory_is_poisoned_not_zero", "[emulator][runtime]") {
  DeviceBuffer<uint32_t> a(16);
  for (uint32_t v : a.download()) REQUIRE(v == 0xffffffffu);
}

TEST_CASE("copies_outside_a_device_allocation_are_rejected", "[emulator][runtime]") {
  DeviceBuffer<float> a(100);
  std::vector<float> host(200);
  REQUIRE_ERROR(gpu::memcpy_h2d(a.get(), host.data(), 101 * sizeof(float), nullptr), "memcpy_h2d", "overrun");
  REQUIRE_ERROR(gpu::memcpy_d2h(host.data(), a.get() + 50, 51 * sizeof(float), nullptr), "memcpy_d2h", "overrun");
  REQUIRE_ERROR(gpu::memcpy_h2d(host.data(), host.data(), 4, nullptr), "not in a device allocation");
  REQUIRE_ERROR(gpu::memset(a.get(), 0, 401, nullptr), "memset");
  REQUIRE_ERROR(gpu::device_free(a.get() + 1), "device_free");
}

TEST_CASE("replaying_a_graph_whose_buffer_was_freed_is_an_error_not_a_crash", "[emulator][runtime]") {
  gpu::Stream s = nullptr;
  REQUIRE_OK(gpu::stream_create(&s));
  float* buf = nullptr;
  REQUIRE_OK(gpu::device_alloc(&buf, 64));
  std::vector<float> host(64, 1.0f);
  REQUIRE_OK(gpu::begin_capture(s));
  REQUIRE_OK(gpu::memcpy_d2h(host.data(), buf, 64 * sizeof(float), s));
  gpu::Graph graph = nullptr;
  REQUIRE_OK(gpu::end_capture(s, &graph));
  REQUIRE_OK(gpu::device_free(buf));
  REQUIRE_ERROR(gpu::graph_launch(graph, s), "memcpy_d2h source", "not in a device allocation");
  CHECK_FALSE(gpu::stream_synchronize(s).ok());  // reported again, once
  (void)gpu::device_synchronize();
  REQUIRE_OK(gpu::graph_destroy(graph));
  REQUIRE_OK(gpu::stream_destroy(s));
}
#endif

TEST_CASE("events_time_work_on_a_stream", "[emulator][runtime]") {
  CUCLIP_SEED_INFO();
  gpu::Stream s = nullptr;
  gpu::Event start = nullptr, end = nullptr, never = nullptr;
  REQUIRE_OK(gpu::stream_create(&s));
  REQUIRE_OK(gpu::event_create(&start));
  REQUIRE_OK(gpu::event_create(&end));
  REQUIRE_OK(gpu::event_create(&never));
  DeviceBuffer<float> x(77 * 768), out(77);
  x.upload(random_floats(77 * 768));
  REQUIRE_OK(gpu::event_record(start, s));
  REQUIRE_OK(cuclip::kernels::row_sum_forward(out.get(), x.get(), 77, 768, s));
  REQUIRE_OK(gpu::event_record(end, s));
  REQUIRE_OK(gpu::event_synchronize(end));
  float ms = -1;
  REQUIRE_OK(gpu::event_elapsed_ms(start, end, &ms));
  CHECK(ms >= 0.0f);
  CHECK_FALSE(gpu::event_elapsed_ms(start, never, &ms).ok());
  REQUIRE_OK(gpu::stream_synchronize(s));
  for (gpu::Event e : {start, end, never}) REQUIRE_OK(gpu::event_destroy(e));
  REQUIRE_OK(gpu::stream_destroy(s));
}

// Page-locked host memory, as CUDA graphs need for their copies.
template <class T>
struct PinnedBuffer {
  T* p = nullptr;
  explicit PinnedBuffer(size_t n) {
    void* v = nullptr;
    REQUIRE_OK(gpu::host_alloc_pinned(&v, n * sizeof(T)));
    p = static_cast<T*>(v);
  }
  ~PinnedBuffer() { (void)gpu::host_free_pinned(p); }
};

TEST_CASE("graph_capture_records_work_and_replay_uses_inputs_at_launch_time", "[emulator][runtime]") {
  CUCLIP_SEED_INFO();
  const int rows = 3, cols = 50;
  gpu::Stream s = nullptr;
  REQUIRE_OK(gpu::stream_create(&s));
  DeviceBuffer<float> x(rows * cols), out(rows), staged(rows * cols);
  PinnedBuffer<float> host_in(rows * cols), host_out(rows);
  for (int i = 0; i < rows * cols; ++i) host_in.p[i] = 0.0f;
  for (int r = 0; r < rows; ++r) host_out.p[r] = -1.0f;
  out.poison();
  REQUIRE_OK(gpu::begin_capture(s));
  REQUIRE_OK(gpu::memcpy_h2d(staged.get(), host_in.p, rows * cols * sizeof(float), s));
  REQUIRE_OK(gpu::memcpy_d2d(x.get(), staged.get(), rows * cols * sizeof(float), s));
  REQUIRE_OK(cuclip::kernels::row_sum_forward(out.get(), x.get(), rows, cols, s));
  REQUIRE_OK(gpu::memcpy_d2h(host_out.p, out.get(), rows * sizeof(float), s));
  gpu::Graph graph = nullptr;
  REQUIRE_OK(gpu::end_capture(s, &graph));
  for (int r = 0; r < rows; ++r) CHECK(host_out.p[r] == -1.0f);  // nothing ran during capture
  for (float v : out.download()) CHECK(std::isnan(v));           // the kernel did not run either

  for (int replay = 0; replay < 3; ++replay) {
    std::vector<float> values = random_floats(rows * cols);
    std::copy(values.begin(), values.end(), host_in.p);  // read at replay, as CUDA does
    REQUIRE_OK(gpu::graph_launch(graph, s));
    REQUIRE_OK(gpu::stream_synchronize(s));
    for (int r = 0; r < rows; ++r) {
      double want = 0;
      for (int c = 0; c < cols; ++c) want += values[r * cols + c];
      REQUIRE(std::fabs(host_out.p[r] - want) <= 1e-5);  // 50 terms of |x| <= 1 in f32
    }
  }
  REQUIRE_OK(gpu::graph_destroy(graph));
  REQUIRE_OK(gpu::stream_destroy(s));
}

TEST_CASE("synchronizing_a_capturing_stream_fails_and_invalidates_the_capture", "[emulator][runtime]") {
  gpu::Stream s = nullptr;
  REQUIRE_OK(gpu::stream_create(&s));
  REQUIRE_OK(gpu::begin_capture(s));
  CHECK_FALSE(gpu::stream_synchronize(s).ok());
  gpu::Graph graph = nullptr;
  CHECK_FALSE(gpu::end_capture(s, &graph).ok());
  CHECK(graph == nullptr);
  CHECK_FALSE(gpu::begin_capture(nullptr).ok());  // the legacy default stream cannot be captured
  (void)gpu::device_synchronize();
  REQUIRE_OK(gpu::stream_destroy(s));
}
