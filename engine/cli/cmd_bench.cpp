// cuclip bench: end-to-end throughput and latency of the C API on standard CLIP shapes (random
// weights generated on the spot, no download) or on a given model file.
//
// What is timed, per (model, task, batch): one cuclip_encode_* call of `batch` items, after
// warm-up, repeated until --iters calls or --max-seconds, whichever comes first. Throughput is
// batch / median latency (medians, because the machines we share are noisy); p99 is nearest-rank.
// Tasks: "image" (RGB8 pixels at the model's resolution: normalisation + vision forward),
// "image_frame" (640x480 RGB8 camera frames: resize + crop + normalisation + vision forward; on a
// GPU the resize runs on the device unless CUCLIP_GPU_RESIZE=0),
// "text_caption" (captions of realistic length, ~10-20 tokens, tokenisation included) and
// "text_full" (texts truncated to the full context). Configurations predicted to exceed the time
// budget are skipped and listed with the reason. --image-files adds an end-to-end measurement:
// model load + decode + preprocess + forward of the given files, in this process.
#include <dlfcn.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "inputs.hpp"
#include "model_file.hpp"
#include "random_model.hpp"

namespace cli {

namespace {

using nlohmann::json;

const char* kBenchUsage =
    "usage: cuclip bench [-m MODEL] [--shapes B/32,B/16,L/14,L/14@336,H/14] [--backend auto|cpu|cuda|cuda-emu]\n"
    "                    [--dtype auto|f32|f16|bf16] [--threads N] [--batch 1,8,64,256,1024]\n"
    "                    [--tasks image,image_frame,text_caption,text_full] [--iters N] [--warmup N] [--max-seconds S]\n"
    "                    [--image-files DIR_OR_LIST] [--model-dir DIR] [--file-dtype auto|f32|f16|bf16] [--json]\n"
    "Measures images/s and texts/s, latency p50/p99 per batch size and peak memory.\n"
    "Without -m: the standard shapes with random weights written to --model-dir (default: a temporary\n"
    "directory, removed afterwards; an existing file there is reused). On the CPU backend only B/32 and\n"
    "B/16 run unless --shapes is given. --max-seconds bounds each configuration (default 10): larger\n"
    "batches predicted to exceed it are skipped and listed. --json prints one JSON object whose\n"
    "throughput keys end in _per_s.\n";

constexpr int kMinIters = 3;
constexpr int kFrameWidth = 640, kFrameHeight = 480;  // the image_frame task's camera frames  // a configuration is only started if warm-up + this many calls fit the budget

struct Options {
  Common common;
  std::vector<std::string> shapes;
  bool shapes_given = false;
  std::vector<int> batches = {1, 8, 64, 256, 1024};
  std::vector<std::string> tasks = {"image", "text_caption", "text_full"};
  int iters = 20, warmup = -1;  // -1: 1 on the CPU, 3 on a GPU
  double max_seconds = 10;
  std::string image_files, model_dir, file_dtype = "auto";
  bool json = false, help = false;
};

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = s.find(',', start);
    const std::string part = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!part.empty()) out.push_back(part);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// Short names ("B/32") and open_clip names are accepted for the standard shapes.
std::string full_shape_name(const std::string& s) { return s.rfind("ViT-", 0) == 0 || s == "tiny" ? s : "ViT-" + s; }

const char* backend_name(cuclip_backend b) { return b == CUCLIP_BACKEND_CPU ? "cpu" : b == CUCLIP_BACKEND_CUDA ? "cuda" : "cuda-emu"; }
const char* dtype_name(cuclip_dtype d) { return d == CUCLIP_DTYPE_F32 ? "f32" : d == CUCLIP_DTYPE_F16 ? "f16" : "bf16"; }

// ---- memory -------------------------------------------------------------------------------------

// Resets the kernel's peak-RSS mark (Linux >= 4.0) so each configuration gets its own peak.
void reset_peak_rss() {
  if (FILE* f = std::fopen("/proc/self/clear_refs", "w")) {
    std::fputs("5", f);
    std::fclose(f);
  }
}

int64_t peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return (int64_t)u.ru_maxrss * 1024;  // Linux reports KiB
}

// Device memory used by this process, from NVML loaded at run time (no link dependency, so the
// same binary runs where there is no driver). Sampled between calls: the CUDA backend allocates
// its workspace up front, so the sample after a configuration is its peak up to transient
// allocations inside a call. -1 when unknown.
class DeviceMemory {
 public:
  explicit DeviceMemory(int device) {
    lib_ = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib_) return;
    auto init = (int (*)())dlsym(lib_, "nvmlInit_v2");
    auto handle = (int (*)(unsigned, void**))dlsym(lib_, "nvmlDeviceGetHandleByIndex_v2");
    procs_ = (int (*)(void*, unsigned*, Proc*))dlsym(lib_, "nvmlDeviceGetComputeRunningProcesses_v3");
    info_ = (int (*)(void*, Info*))dlsym(lib_, "nvmlDeviceGetMemoryInfo");
    ok_ = init && handle && info_ && init() == 0 && handle((unsigned)device, &dev_) == 0;
    if (ok_) baseline_ = device_used();
  }
  ~DeviceMemory() {
    if (lib_) dlclose(lib_);
  }
  // This process's usage when NVML can see it (not always inside containers); otherwise the whole
  // device's usage minus what was in use when the benchmark started.
  int64_t used() const {
    if (!ok_) return -1;
    if (procs_) {
      Proc p[64];
      unsigned n = 64;
      if (procs_(dev_, &n, p) == 0)
        for (unsigned i = 0; i < n; ++i)
          if (p[i].pid == (unsigned)getpid()) return (int64_t)p[i].used;
    }
    const int64_t d = device_used();
    return d < 0 ? -1 : std::max<int64_t>(0, d - baseline_);
  }

 private:
  struct Proc {  // nvmlProcessInfo_t (v3 layout)
    unsigned pid;
    unsigned long long used;
    unsigned gpu_instance, compute_instance;
  };
  struct Info {  // nvmlMemory_t
    unsigned long long total, free, used;
  };
  int64_t device_used() const {
    Info i{};
    return info_(dev_, &i) == 0 ? (int64_t)i.used : -1;
  }
  void* lib_ = nullptr;
  void* dev_ = nullptr;
  int (*procs_)(void*, unsigned*, Proc*) = nullptr;
  int (*info_)(void*, Info*) = nullptr;
  bool ok_ = false;
  int64_t baseline_ = 0;
};

// ---- inputs -------------------------------------------------------------------------------------

// Captions of the length people search with: 8-20 tokens, all different.
std::vector<std::string> captions(int n) {
  static const char* subjects[] = {"a dog", "two cats", "an old man", "a red bicycle", "a plate of pasta", "a small boat",
                                   "a group of children", "a wooden chair", "a black and white photo of a horse", "a city bus"};
  static const char* actions[] = {"sitting on", "next to", "in front of", "lying under", "parked near", "running across"};
  static const char* places[] = {"a sunny beach", "the kitchen table", "a snowy mountain road", "an empty parking lot",
                                 "a crowded market at night", "the window", "a green field with flowers"};
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i)
    out.push_back(std::string(subjects[i % 10]) + " " + actions[(i / 10) % 6] + " " + places[(i / 60 + i) % 7]);
  return out;
}

// Texts long enough to be truncated to the full context.
std::vector<std::string> long_texts(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    std::string t = "variant " + std::to_string(i) + ":";
    for (const std::string& c : captions(12)) t += " " + c + ",";
    out.push_back(t);
  }
  return out;
}

// Images with structure (gradients plus a per-image pattern), not constants.
std::vector<std::vector<uint8_t>> pixel_images(int n, int W, int H) {
  std::vector<std::vector<uint8_t>> out(n, std::vector<uint8_t>((size_t)W * H * 3));
  for (int i = 0; i < n; ++i)
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x)
        for (int c = 0; c < 3; ++c)
          out[i][((size_t)y * W + x) * 3 + c] = (uint8_t)((x * (c + 1) + y * (3 - c) + 37 * i + ((x ^ y) & 15) * 5) & 255);
  return out;
}

// ---- timing -------------------------------------------------------------------------------------

struct Timing {
  std::vector<double> ms;  // sorted
  double p(double q) const {  // nearest-rank percentile
    const size_t k = (size_t)std::ceil(q * ms.size());
    return ms[std::min(ms.size() - 1, k > 0 ? k - 1 : 0)];
  }
};

// Runs `call` after `warmup` calls until `iters` calls or the budget is spent. Returns false (with
// the library's message in *err) when a call fails.
template <class F>
bool time_calls(F&& call, int warmup, int iters, double max_seconds, Timing* t, std::string* err) {
  const double start = now_s();
  for (int w = 0; w < warmup; ++w)
    if (call() != CUCLIP_OK) { *err = cuclip_last_error(); return false; }
  const double budget_start = now_s(), warm = budget_start - start;
  double last = warmup > 0 ? warm / warmup : 0;
  while ((int)t->ms.size() < iters && (t->ms.empty() || now_s() - budget_start + last <= max_seconds)) {
    const double t0 = now_s();
    if (call() != CUCLIP_OK) { *err = cuclip_last_error(); return false; }
    last = now_s() - t0;
    t->ms.push_back(last * 1e3);
  }
  std::sort(t->ms.begin(), t->ms.end());
  return true;
}

// ---- one model ----------------------------------------------------------------------------------

struct ModelRun {
  std::string shape, path;
  bool random = false;
  double generate_s = 0;
};

// Per-item seconds measured so far, per task and per FLOP, to predict what will not fit.
struct Predictor {
  double sec_per_flop = 0;  // from the fastest measured configuration of any model
  void learn(double seconds_per_item, double flops_per_item) {
    if (flops_per_item > 0) {
      const double r = seconds_per_item / flops_per_item;
      sec_per_flop = sec_per_flop > 0 ? std::min(sec_per_flop, r) : r;
    }
  }
};

double task_flops(const cuclip::ModelConfig& c, const std::string& task, int caption_tokens) {
  if (task == "image" || task == "image_frame") return cuclip::image_forward_flops(c);
  return cuclip::text_forward_flops(c, task == "text_full" ? c.text.context_length : caption_tokens);
}

// Mean number of tokens (with SOT/EOT) of the texts, as the forward sees them.
int mean_tokens(cuclip_model* m, const std::vector<std::string>& texts) {
  const int L = cuclip_model_context_length(m);
  std::vector<int32_t> ids(L);
  double sum = 0;
  for (const std::string& t : texts) {
    int n = 0;
    if (cuclip_tokenize(m, t.c_str(), 0, ids.data(), L, &n) != CUCLIP_OK) return L;
    // The forward runs up to the pooled token: the first EOT, which is also the highest id (the
    // argmax rule); padding may be 0 or EOT, so it cannot be told apart by value.
    int pooled = 0;
    for (int i = 1; i < n; ++i)
      if (ids[i] > ids[pooled]) pooled = i;
    sum += pooled + 1;
  }
  return texts.empty() ? L : (int)std::lround(sum / texts.size());
}

json bench_model(const Options& o, const ModelRun& run, Predictor& pred, DeviceMemory* dev, std::string* backend_used,
                 std::string* dtype_used) {
  json out{{"shape", run.shape}, {"model", run.path}, {"random_weights", run.random}};
  if (run.random) out["generate_s"] = run.generate_s;
  Common c = o.common;
  c.model_path = run.path;
  const double t_load = now_s();
  cuclip_model* m = open_model(c);
  if (!m) {
    out["error"] = cuclip_last_error();
    return out;
  }
  out["load_s"] = now_s() - t_load;
  std::unique_ptr<cuclip::ModelFile> mf;
  cuclip::ModelConfig cfg;
  if (cuclip::ModelFile::open(run.path, {}, &mf).ok()) {
    cfg = mf->config();
    out["file_bytes"] = mf->file_size();
    out["file_dtype"] = cuclip::dtype_name(mf->file_dtype());
    out["params"] = cuclip::parameter_count(cfg);
    mf.reset();
  }
  if (backend_used->empty()) {  // -m: learn what "auto" means (warm-up count, memory probes) up front
    Common c1 = c;
    c1.batch = 1;
    cuclip_context* probe = open_context(m, c1);
    if (!probe) {
      out["error"] = cuclip_last_error();
      cuclip_model_free(m);
      return out;
    }
    *backend_used = backend_name(cuclip_context_backend(probe));
    cuclip_context_free(probe);
  }
  const std::vector<std::string> caps = captions(64), longs = long_texts(8);
  const int cap_tokens = mean_tokens(m, caps);
  out["caption_tokens"] = cap_tokens;
  json results = json::array(), skipped = json::array();

  for (const std::string& task : o.tasks) {
    double sec_per_item = 0;  // from this task's previous batch size
    for (int batch : o.batches) {
      const double flops = task_flops(cfg, task, cap_tokens);
      const double predicted = sec_per_item > 0 ? sec_per_item * batch : pred.sec_per_flop * flops * batch;
      const int warmup = o.warmup >= 0 ? o.warmup : *backend_used == "cpu" ? 1 : 3;
      if (predicted * (warmup + kMinIters) > o.max_seconds) {
        char why[160];
        std::snprintf(why, sizeof why, "predicted %.2f s per call x (%d warm-up + %d) > --max-seconds %g", predicted, warmup, kMinIters,
                      o.max_seconds);
        skipped.push_back({{"task", task}, {"batch", batch}, {"reason", why}});
        continue;
      }
      Common cb = c;
      cb.batch = batch;
      reset_peak_rss();
      cuclip_context* ctx = open_context(m, cb);
      if (!ctx) {
        out["error"] = cuclip_last_error();
        cuclip_model_free(m);
        return out;
      }
      *backend_used = backend_name(cuclip_context_backend(ctx));
      *dtype_used = dtype_name(cuclip_context_dtype(ctx));
      const int D = cuclip_model_embed_dim(m), S = cuclip_model_image_size(m);
      std::vector<float> emb((size_t)batch * D);
      std::vector<cuclip_status> st(batch);
      std::vector<std::vector<uint8_t>> pix;
      std::vector<cuclip_image_view> views;
      std::vector<const char*> texts;
      const bool image_task = task == "image" || task == "image_frame";
      if (image_task) {
        const int W = task == "image" ? S : kFrameWidth, H = task == "image" ? S : kFrameHeight;
        pix = pixel_images(std::min(batch, 64), W, H);  // 64 distinct images, reused in larger batches
        for (int i = 0; i < batch; ++i) views.push_back({pix[i % pix.size()].data(), W, H, 0, CUCLIP_PIXELS_RGB8});
      } else {
        const auto& pool = task == "text_full" ? longs : caps;
        for (int i = 0; i < batch; ++i) texts.push_back(pool[i % pool.size()].c_str());
      }
      auto call = [&] {
        return image_task ? cuclip_encode_image_pixels(ctx, views.data(), batch, emb.data(), st.data())
                               : cuclip_encode_texts(ctx, texts.data(), batch, emb.data(), st.data());
      };
      Timing t;
      std::string err;
      const bool ok = time_calls(call, warmup, o.iters, o.max_seconds, &t, &err);
      json r{{"task", task}, {"batch", batch}};
      if (!ok) {
        r["error"] = err;
      } else {
        const double p50 = t.p(0.5) / 1e3;
        sec_per_item = p50 / batch;
        pred.learn(sec_per_item, flops);
        r["iters"] = t.ms.size();
        r["warmup"] = warmup;
        r[image_task ? "images_per_s" : "texts_per_s"] = batch / p50;
        r["latency_ms_p50"] = t.p(0.5);
        r["latency_ms_p99"] = t.p(0.99);
        r["latency_ms_min"] = t.ms.front();
        r["achieved_gflops"] = flops * batch / p50 / 1e9;
        r["tokens"] = image_task ? cfg.vision.tokens() : task == "text_full" ? cfg.text.context_length : cap_tokens;
        r["host_peak_rss_bytes"] = peak_rss_bytes();
        if (dev && *backend_used != "cpu") {
          const int64_t used = dev->used();
          r["device_mem_used_bytes"] = used >= 0 ? json(used) : json(nullptr);
        }
      }
      results.push_back(r);
      cuclip_context_free(ctx);
      if (!ok) break;
    }
  }
  out["results"] = results;
  out["skipped"] = skipped;
  cuclip_model_free(m);

  if (!o.image_files.empty()) {
    // One process's end-to-end job, as a user runs it: load, decode, preprocess, forward. Three
    // repetitions with a fresh model each time; the page cache is warm after the first.
    const std::vector<std::string> files = expand_images(o.image_files);
    std::vector<const char*> ptrs;
    for (const auto& f : files) ptrs.push_back(f.c_str());
    json reps = json::array();
    for (int rep = 0; rep < 3 && !ptrs.empty(); ++rep) {
      Common ce = c;
      ce.batch = std::min<int>(32, (int)ptrs.size());
      const double t0 = now_s();
      cuclip_model* me = open_model(ce);
      cuclip_context* ctx = me ? open_context(me, ce) : nullptr;
      const double t1 = now_s();
      cuclip_status s = CUCLIP_ERR_IO;
      if (ctx) {
        std::vector<float> emb(ptrs.size() * (size_t)cuclip_model_embed_dim(me));
        s = cuclip_encode_image_files(ctx, ptrs.data(), (int)ptrs.size(), emb.data(), nullptr);
      }
      const double t2 = now_s();
      if (s != CUCLIP_OK) reps.push_back({{"error", cuclip_last_error()}});
      else reps.push_back({{"load_s", t1 - t0}, {"encode_s", t2 - t1}, {"total_s", t2 - t0}});
      cuclip_context_free(ctx);
      cuclip_model_free(me);
      if (s != CUCLIP_OK) break;
    }
    // Diagnostic: decode + preprocess alone, one file after another on this thread, to tell how
    // the end-to-end time splits between the image pipeline and the forward.
    double pre_s = -1;
    if (cuclip_model* mp = open_model(c)) {
      std::vector<float> chw((size_t)3 * cuclip_model_image_size(mp) * cuclip_model_image_size(mp));
      const double t0 = now_s();
      for (const char* f : ptrs) cuclip_preprocess_image_file(mp, f, chw.data());
      pre_s = now_s() - t0;
      cuclip_model_free(mp);
    }
    json e{{"n_images", ptrs.size()}, {"source", o.image_files}, {"repetitions", reps}};
    if (pre_s >= 0) e["decode_preprocess_serial_s"] = pre_s;
    std::vector<double> totals;
    for (const json& r : reps)
      if (r.contains("total_s")) totals.push_back(r["total_s"].get<double>());
    if (!totals.empty()) {
      std::sort(totals.begin(), totals.end());
      e["total_s_median"] = totals[totals.size() / 2];
      e["images_per_s"] = ptrs.size() / totals[totals.size() / 2];
    }
    out["e2e_files"] = e;
  }
  return out;
}

// ---- printing -----------------------------------------------------------------------------------

void print_table(const json& report) {
  std::printf("cuclip bench %s | backend %s | dtype %s | %d threads | <= %g s per configuration, median of <= %d calls\n",
              report["version"].get<std::string>().c_str(), report["backend"].get<std::string>().c_str(),
              report["dtype"].get<std::string>().c_str(), report["threads"].get<int>(), report["settings"]["max_seconds"].get<double>(),
              report["settings"]["iters"].get<int>());
  for (const json& m : report["models"]) {
    std::printf("\n%s  (%s", m["shape"].get<std::string>().c_str(), m["random_weights"].get<bool>() ? "random weights" : "model file");
    if (m.contains("params")) std::printf(", %.1f M params, %s file %.0f MB", m["params"].get<double>() / 1e6, m["file_dtype"].get<std::string>().c_str(),
                                          m["file_bytes"].get<double>() / 1e6);
    if (m.contains("load_s")) std::printf(", load %.2f s", m["load_s"].get<double>());
    std::printf(")\n");
    if (m.contains("error")) { std::printf("  error: %s\n", m["error"].get<std::string>().c_str()); continue; }
    std::printf("  %-13s %6s %6s %6s %10s %10s %12s %9s %10s\n", "task", "batch", "tokens", "iters", "p50 ms", "p99 ms", "items/s", "GFLOP/s", "peak RSS");
    for (const json& r : m["results"]) {
      if (r.contains("error")) {
        std::printf("  %-13s %6d  error: %s\n", r["task"].get<std::string>().c_str(), r["batch"].get<int>(), r["error"].get<std::string>().c_str());
        continue;
      }
      const double rate = r.contains("images_per_s") ? r["images_per_s"].get<double>() : r["texts_per_s"].get<double>();
      std::printf("  %-13s %6d %6d %6d %10.2f %10.2f %12.1f %9.1f %7.0f MB\n", r["task"].get<std::string>().c_str(), r["batch"].get<int>(),
                  r["tokens"].get<int>(), r["iters"].get<int>(), r["latency_ms_p50"].get<double>(), r["latency_ms_p99"].get<double>(), rate,
                  r["achieved_gflops"].get<double>(), r["host_peak_rss_bytes"].get<double>() / 1e6);
    }
    for (const json& s : m["skipped"])
      std::printf("  skipped %s batch %d: %s\n", s["task"].get<std::string>().c_str(), s["batch"].get<int>(), s["reason"].get<std::string>().c_str());
    if (m.contains("e2e_files") && m["e2e_files"].contains("total_s_median"))
      std::printf("  end to end: %d image files (load + decode + preprocess + forward) in %.3f s median of 3 = %.1f images/s\n",
                  m["e2e_files"]["n_images"].get<int>(), m["e2e_files"]["total_s_median"].get<double>(), m["e2e_files"]["images_per_s"].get<double>());
    if (m.contains("e2e_files") && m["e2e_files"].contains("decode_preprocess_serial_s"))
      std::printf("  of which decode + preprocess alone, serially: %.3f s\n", m["e2e_files"]["decode_preprocess_serial_s"].get<double>());
  }
  for (const json& s : report["skipped_shapes"])
    std::printf("skipped shape %s: %s\n", s["shape"].get<std::string>().c_str(), s["reason"].get<std::string>().c_str());
}

// The backend and dtype that the options resolve to ("auto" included), learned on a tiny random model
// before any large file is written. False with *err when no context can be created.
bool probe_backend(const Options& o, const std::string& dir, std::string* backend, std::string* dtype, std::string* err) {
  cuclip::ModelConfig cfg;
  cuclip::RandomModelOptions ro;
  ro.dtype = cuclip::DType::F32;
  const std::string path = dir + "/probe-tiny.cuclip";
  if (cuclip::Status st = cuclip::standard_shape("tiny", &cfg); !st.ok()) { *err = st.message; return false; }
  if (cuclip::Status st = cuclip::write_random_model(cfg, path, ro); !st.ok()) { *err = "writing a random model: " + st.message; return false; }
  cuclip_model* m = nullptr;
  cuclip_context* ctx = nullptr;
  if (cuclip_model_load(path.c_str(), cuclip_model_default_params(), &m) == CUCLIP_OK) {
    Common c = o.common;
    c.batch = 1;
    ctx = open_context(m, c);
  }
  if (ctx) {
    *backend = backend_name(cuclip_context_backend(ctx));
    *dtype = dtype_name(cuclip_context_dtype(ctx));
  } else {
    *err = cuclip_last_error();
  }
  cuclip_context_free(ctx);
  cuclip_model_free(m);
  std::remove(path.c_str());
  return ctx != nullptr;
}

Options parse(Args& a) {
  Options o;
  while (!a.done()) {
    const std::string f = a.peek();
    if (f == "--batch") { a.next(); o.batches.clear(); for (const auto& s : split(need_value(a, f))) o.batches.push_back(parse_int(s, f, 1, 65536)); }
    else if (f == "--shapes") { a.next(); o.shapes = split(need_value(a, f)); o.shapes_given = true; }
    else if (f == "--tasks") { a.next(); o.tasks = split(need_value(a, f)); }
    else if (f == "--iters") { a.next(); o.iters = parse_int(need_value(a, f), f, 1, 1000000); }
    else if (f == "--warmup") { a.next(); o.warmup = parse_int(need_value(a, f), f, 0, 1000); }
    else if (f == "--max-seconds") {
      a.next();
      const std::string v = need_value(a, f);
      char* end = nullptr;
      o.max_seconds = std::strtod(v.c_str(), &end);
      if (v.empty() || *end || !(o.max_seconds > 0)) throw UsageError{"--max-seconds must be a positive number, not '" + v + "'"};
    }
    else if (f == "--image-files") { a.next(); o.image_files = need_value(a, f); }
    else if (f == "--model-dir") { a.next(); o.model_dir = need_value(a, f); }
    else if (f == "--file-dtype") { a.next(); o.file_dtype = need_value(a, f); }
    else if (f == "--json") { a.next(); o.json = true; }
    else if (f == "-h" || f == "--help") { o.help = true; return o; }
    else if (parse_common(a, o.common)) {}
    else throw UsageError{"unknown option '" + f + "'"};
  }
  for (const std::string& t : o.tasks)
    if (t != "image" && t != "image_frame" && t != "text_caption" && t != "text_full") throw UsageError{"--tasks: unknown task '" + t + "'"};
  if (o.batches.empty()) throw UsageError{"--batch needs at least one batch size"};
  std::sort(o.batches.begin(), o.batches.end());
  o.batches.erase(std::unique(o.batches.begin(), o.batches.end()), o.batches.end());
  if (o.file_dtype != "auto" && o.file_dtype != "f32" && o.file_dtype != "f16" && o.file_dtype != "bf16")
    throw UsageError{"--file-dtype must be auto, f32, f16 or bf16"};
  return o;
}

}  // namespace

int cmd_bench(Args& a) {
  Options o = parse(a);
  if (o.help) {
    std::fputs(kBenchUsage, stdout);
    return 0;
  }
  std::vector<ModelRun> runs;
  json skipped_shapes = json::array();
  std::string tmp_dir;
  if (!o.common.model_path.empty()) {
    runs.push_back({o.common.model_path, o.common.model_path, false, 0});
  } else {
    if (!o.shapes_given) o.shapes = cuclip::standard_shape_names();
    std::string dir = o.model_dir;
    if (dir.empty()) {
      const char* t = std::getenv("TMPDIR");
      std::string templ = std::string(t && *t ? t : "/tmp") + "/cuclip-bench-XXXXXX";
      if (!mkdtemp(templ.data())) { print_error("bench", "cannot create a temporary directory"); return 1; }
      dir = tmp_dir = templ;
    }
    for (const std::string& s : o.shapes) {
      cuclip::ModelConfig cfg;
      const std::string name = full_shape_name(s);
      if (cuclip::Status st = cuclip::standard_shape(name, &cfg); !st.ok()) throw UsageError{st.message};
      std::string file = name;
      for (char& ch : file) if (ch == '/' || ch == '@') ch = '-';
      runs.push_back({name, dir + "/" + file, true, 0});
    }
  }
  std::string backend_used, dtype_used, probe_error;
  if (!tmp_dir.empty() || !o.model_dir.empty()) {
    if (!probe_backend(o, o.model_dir.empty() ? tmp_dir : o.model_dir, &backend_used, &dtype_used, &probe_error)) {
      if (!tmp_dir.empty()) rmdir(tmp_dir.c_str());
      print_error("bench", "cannot create a " + o.common.backend + " context: " + probe_error);
      if (o.json) std::printf("%s\n", json{{"tool", "cuclip bench"}, {"backend", o.common.backend}, {"error", probe_error}}.dump(2).c_str());
      return 1;
    }
  }
  DeviceMemory dev_probe(0);
  DeviceMemory* dev = backend_used == "cpu" ? nullptr : &dev_probe;
  Predictor pred;
  json models = json::array();
  const double start = now_s();
  for (ModelRun& run : runs) {
    if (run.random) {
      // The CPU computes in f32, so it gets an f32 file, used in place from the mapping; GPUs f16.
      const std::string fd = o.file_dtype != "auto" ? o.file_dtype : dtype_used == "f32" ? "f32" : "f16";
      cuclip::ModelConfig cfg;
      (void)cuclip::standard_shape(run.shape, &cfg);  // validated when the list was built
      const bool heavy = run.shape != "ViT-B/32" && run.shape != "ViT-B/16" && run.shape != "tiny";
      if (backend_used == "cpu" && !o.shapes_given && heavy) {
        skipped_shapes.push_back({{"shape", run.shape}, {"reason", "CPU backend: not run by default (pass --shapes to include it)"}});
        continue;
      }
      // Skip before writing a large file when even one item of the cheapest task cannot fit.
      double cheapest = 1e300;
      for (const std::string& t : o.tasks) cheapest = std::min(cheapest, task_flops(cfg, t, 16));
      if (pred.sec_per_flop * cheapest * o.batches.front() * (1 + kMinIters) > o.max_seconds) {
        skipped_shapes.push_back({{"shape", run.shape}, {"reason", "predicted to exceed --max-seconds at the smallest batch"}});
        continue;
      }
      run.path += "-" + fd + ".cuclip";
      if (access(run.path.c_str(), R_OK) != 0) {
        cuclip::RandomModelOptions ro;
        cuclip::dtype_from_name(fd, &ro.dtype);
        if (!o.json) std::fprintf(stderr, "cuclip bench: writing a random %s model (%s) ...\n", run.shape.c_str(), fd.c_str());
        const double t0 = now_s();
        if (cuclip::Status st = cuclip::write_random_model(cfg, run.path, ro); !st.ok()) {
          print_error("bench", "writing a random " + run.shape + " model: " + st.message);
          return 1;
        }
        run.generate_s = now_s() - t0;
      }
    }
    if (!o.json) std::fprintf(stderr, "cuclip bench: %s ...\n", run.shape.c_str());
    json m = bench_model(o, run, pred, dev, &backend_used, &dtype_used);
    if (run.random && !tmp_dir.empty()) std::remove(run.path.c_str());
    const bool failed = m.contains("error");
    models.push_back(std::move(m));
    if (failed) break;  // the backend or model cannot be opened: the next models would fail alike
  }
  if (!tmp_dir.empty()) rmdir(tmp_dir.c_str());

  json report{{"tool", "cuclip bench"},
              {"version", cuclip_version()},
              {"backend", backend_used.empty() ? o.common.backend : backend_used},
              {"dtype", dtype_used.empty() ? o.common.dtype : dtype_used},
              {"threads", o.common.threads > 0 ? o.common.threads : (int)std::thread::hardware_concurrency()},
              {"settings", {{"batches", o.batches}, {"tasks", o.tasks}, {"iters", o.iters}, {"warmup", o.warmup},
                            {"max_seconds", o.max_seconds}, {"min_iters", kMinIters}}},
              {"models", models},
              {"skipped_shapes", skipped_shapes},
              {"host_peak_rss_bytes", peak_rss_bytes()},
              {"wall_s", now_s() - start}};
  if (o.json) std::printf("%s\n", report.dump(2).c_str());
  else print_table(report);
  for (const json& m : models)
    if (m.contains("error")) return 1;
  return 0;
}

}  // namespace cli
