// `cuclip embed` on the CUDA backend, as a user runs it: `--backend cuda-emu` (emulated build of
// this test) or `--backend cuda` (GPU build) gives the CPU backend's embeddings for texts and
// images of a fixture; `--backend cuda` where it cannot run fails with one clear line.
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/npy.hpp"
#include "common/testing.hpp"
#include "fixture_models.hpp"

using namespace cuclip_test;

namespace {

#if defined(CUCLIP_EMU)
constexpr const char* kGpuBackend = "cuda-emu";
#else
constexpr const char* kGpuBackend = "cuda";
#endif

struct Run {
  int code = -1;
  std::string err;
};

Run run(const std::string& cmd) {
  const std::string err = temp_dir() + "/stderr.txt";
  const int st = std::system((cmd + " </dev/null >/dev/null 2>" + err).c_str());
  Run r;
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream f(err);
  std::stringstream ss;
  ss << f.rdbuf();
  r.err = ss.str();
  return r;
}

std::vector<float> embed(const std::string& backend, const std::string& args) {
  const std::string out = temp_dir() + "/emb_" + backend + ".npy";
  const Run r = run(binary_path("cuclip") + " embed --backend " + backend + " " + args + " -o " + out);
  INFO(backend << ": " << r.err);
  REQUIRE(r.code == 0);
  cuclip::NpyArray a;
  REQUIRE(cuclip::npy_read(out, &a).ok());
  return a.as_f32();
}

}  // namespace

TEST_CASE("cli_embed_on_the_gpu_backend_matches_the_cpu_backend", "[gpu_backend][cli]") {
  const std::string model = converted_fixture("hf_modern_gelu_f16_sharded");
  const std::string args = "-m " + model + " --batch 2 --text 'a photo of a cat' --text '' --image " +
                           data_path("reference/images/rgb_scene_121x91.jpg") + " --image " +
                           data_path("reference/images/tiny_rgb_20x13.png") + " --text 'two dogs in the snow'";
  const std::vector<float> cpu = embed("cpu", args), gpu = embed(kGpuBackend, "--dtype f32 " + args);
  REQUIRE(cpu.size() == gpu.size());
  const size_t D = cpu.size() / 5;
  for (size_t r = 0; r < 5; ++r) {
    const double cos = cosine(gpu.data() + r * D, cpu.data() + r * D, D);
    INFO("row " << r << ": cosine " << cos);
    CHECK(cos >= 0.99999);  // f32 on both: summation order only (see test_backend_parity.cpp)
  }
}

TEST_CASE("cli_backend_cuda_fails_with_one_line_where_it_cannot_run", "[gpu_backend][cli]") {
  const Run r = run(binary_path("cuclip") + " embed --backend cuda -m " + converted_fixture("hf_legacy_quickgelu_f32") +
                    " --text hello -o " + temp_dir() + "/cuda.npy");
  if (r.code == 0) return;  // a CUDA build on a machine with a GPU: nothing to refuse
  INFO(r.err);
  CHECK(r.code == 1);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  const bool names_reason = r.err.find("CUDA") != std::string::npos || r.err.find("GPU") != std::string::npos;
  CHECK(names_reason);
}

TEST_CASE("cli_embed_splits_inputs_over_devices_in_input_order", "[gpu_backend][cli]") {
  // --devices 0,1: one context per device, each embedding a contiguous share in its own thread.
  // The rows must come back in input order and equal one device's, bit for bit (same kernels, same
  // shapes per item: every item is its own batch here, --batch 1). The emulator has two devices
  // with CUCLIP_EMU_DEVICES=2; on a GPU build the test needs two GPUs.
#if defined(CUCLIP_EMU)
  const std::string env = "CUCLIP_EMU_DEVICES=2 ";
#else
  const std::string env;
  if (std::system("nvidia-smi -L 2>/dev/null | grep -c GPU | grep -qv '^[01]$'") != 0) {
    WARN("fewer than two GPUs: --devices not exercised");
    return;
  }
#endif
  const std::string model = converted_fixture("hf_legacy_quickgelu_f32");
  const std::string inputs = "--batch 1 --text 'a photo of a cat' --image " + data_path("reference/images/rgb_scene_121x91.jpg") +
                             " --text 'two dogs' --image " + data_path("reference/images/tiny_rgb_20x13.png") + " --text 'a red car'";
  auto embed_on = [&](const std::string& devices) {
    const std::string out = temp_dir() + "/devices_" + devices + ".npy";
    const Run r = run(env + binary_path("cuclip") + " embed -m " + model + " --backend " + kGpuBackend + " --dtype f32 --devices " +
                      devices + " " + inputs + " -o " + out);
    INFO("--devices " << devices << ": " << r.err);
    REQUIRE(r.code == 0);
    cuclip::NpyArray a;
    REQUIRE(cuclip::npy_read(out, &a).ok());
    REQUIRE(a.shape.size() == 2);
    CHECK(a.shape[0] == 5);
    return a.as_f32();
  };
  const std::vector<float> one = embed_on("0"), two = embed_on("0,1");
  CHECK(one == two);
  // A device that does not exist is refused with one line naming it.
  const Run bad = run(env + binary_path("cuclip") + " embed -m " + model + " --backend " + kGpuBackend + " --devices 0,7 --text x -o " +
                      temp_dir() + "/bad_devices.npy");
  INFO(bad.err);
  CHECK(bad.code == 1);
  CHECK(bad.err.find("device 7") != std::string::npos);
}

TEST_CASE("cli_classify_on_the_gpu_backend_matches_the_cpu_backend", "[gpu_backend][cli]") {
  // `cuclip classify` on a CUDA context classifies on the device (the zero-shot head); its JSON
  // lines must give the CPU backend's labels in the same order, with probabilities within 1e-3
  // (f32 on both sides; see gpu_zero_shot_head_matches_host_classification).
  const std::string model = converted_fixture("hf_legacy_quickgelu_f32");
  const std::string args = "-m " + model + " --dtype f32 --labels 'a cat,a dog,a red car,a bowl of soup' --top-k 4 --image " +
                           data_path("reference/images/rgb_scene_121x91.jpg") + " --image " +
                           data_path("reference/images/tiny_rgb_20x13.png");
  auto classify = [&](const std::string& backend) {
    const std::string out = temp_dir() + "/classify_" + backend + ".jsonl";
    const std::string err = temp_dir() + "/classify_" + backend + ".err";
    const int st = std::system((binary_path("cuclip") + " classify --backend " + backend + " " + args + " >" + out + " 2>" + err).c_str());
    REQUIRE((WIFEXITED(st) && WEXITSTATUS(st) == 0));
    std::ifstream f(out);
    std::vector<nlohmann::json> lines;
    for (std::string line; std::getline(f, line);) lines.push_back(nlohmann::json::parse(line));
    return lines;
  };
  const auto cpu = classify("cpu"), gpu = classify(kGpuBackend);
  REQUIRE(cpu.size() == 2);
  REQUIRE(gpu.size() == cpu.size());
  for (size_t i = 0; i < cpu.size(); ++i) {
    std::map<std::string, double> pc, pg;  // label -> probability (ranks may swap on near-ties)
    for (const auto& l : cpu[i]["labels"]) pc[l["label"].get<std::string>()] = l["prob"].get<double>();
    for (const auto& l : gpu[i]["labels"]) pg[l["label"].get<std::string>()] = l["prob"].get<double>();
    REQUIRE(pc.size() == 4);
    REQUIRE(pg.size() == 4);
    for (const auto& [label, p] : pc) {
      INFO("image " << i << " label " << label);
      REQUIRE(pg.count(label) == 1);
      CHECK(std::fabs(p - pg[label]) <= 1e-3);
    }
  }
}
