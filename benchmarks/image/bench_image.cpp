// Decode + preprocess throughput of cuclip_image on one core (and on a thread pool), in images/s.
// Usage: bench_image [--size S] [--hf] [--threads N] [--seconds T] file...
// Each file is read, decoded and preprocessed to a normalized [3, S, S] tensor (preprocess_files on
// one thread) repeatedly for about T seconds after a warm-up; one line per file: ms and images/s.
// benchmarks/image/run_bench.py generates the inputs and compares with Pillow + torchvision.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <cstring>
#include <string>
#include <vector>

#include "cuclip/image.hpp"

using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  int size = 224, threads = 0;
  double seconds = 2.0;
  bool hf = false;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--size") && i + 1 < argc) size = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = std::atof(argv[++i]);
    else if (!std::strcmp(argv[i], "--hf")) hf = true;
    else files.push_back(argv[i]);
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: bench_image [--size S] [--hf] [--threads N] [--seconds T] file...\n");
    return 2;
  }
  const cuclip::img::Preset p = hf ? cuclip::img::hf_clip_preset(size) : cuclip::img::openai_preset(size);
  std::vector<float> out(3 * (size_t)size * size);
  for (const auto& f : files) {
    // The production path: preprocess_files decodes only the window the preset reads.
    cuclip::img::Image im;
    if (!cuclip::img::decode_file(f, {}, &im).ok()) return 1;
    const std::vector<std::string> one_file = {f};
    auto one = [&] {
      cuclip::Status s;
      cuclip::img::preprocess_files(one_file, p, {}, out.data(), &s, 1);
      if (!s.ok()) {
        std::fprintf(stderr, "%s\n", s.message.c_str());
        std::exit(1);
      }
    };
    one();  // warm-up: page cache, allocator
    int n = 0;
    const auto t0 = Clock::now();
    const std::clock_t c0 = std::clock();
    double elapsed = 0;
    while (elapsed < seconds || n < 3) {
      one();
      ++n;
      elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    }
    // CPU time as well as wall time: on a shared machine the CPU time is the per-core cost.
    const double cpu = (double)(std::clock() - c0) / CLOCKS_PER_SEC;
    std::printf("cuclip 1 thread  %-40s %dx%d  %8.3f ms/img  %8.1f img/s  cpu %8.1f img/s\n", f.c_str(), im.width,
                im.height, 1e3 * elapsed / n, n / elapsed, n / cpu);
  }
  if (threads != 1) {
    // Pool throughput over all files repeated to a batch of at least 64.
    std::vector<std::string> batch;
    while (batch.size() < 64) batch.insert(batch.end(), files.begin(), files.end());
    std::vector<float> outs(batch.size() * out.size());
    std::vector<cuclip::Status> st(batch.size());
    cuclip::img::preprocess_files(batch, p, {}, outs.data(), st.data(), threads);
    const auto t0 = Clock::now();
    cuclip::img::preprocess_files(batch, p, {}, outs.data(), st.data(), threads);
    const double el = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("cuclip pool (%d threads, 0 = all cores)  %zu images  %8.1f img/s\n", threads, batch.size(),
                batch.size() / el);
  }
  return 0;
}
