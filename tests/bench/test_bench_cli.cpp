// `cuclip bench` run as users run it (the built CLI): on a tiny random model its --json output is one
// JSON object with a throughput key ending in _per_s for every task and batch, sane latencies, and
// the skipped configurations listed; an unavailable backend is an error object and exit code 1.
// Numbers are not asserted (this is not a timing test), only their presence and sanity.
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "common/testing.hpp"

namespace {

struct Run {
  int exit_code = -1;
  std::string out;
};

Run run_cli(const std::string& args) {
  Run r;
  const std::string cmd = std::string("'") + CUCLIP_CLI_PATH + "' " + args + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

}  // namespace

TEST_CASE("cuclip bench --json on a tiny random model prints one object with _per_s keys", "[bench]") {
  const Run r = run_cli("bench --shapes tiny --backend cpu --batch 1,2 --iters 3 --max-seconds 20 --json");
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  const nlohmann::json j = nlohmann::json::parse(r.out);  // throws (fails) unless exactly one JSON value
  REQUIRE(j.is_object());
  CHECK(j["backend"] == "cpu");
  CHECK(j["dtype"] == "f32");
  REQUIRE(j["models"].size() == 1);
  const auto& m = j["models"][0];
  CHECK(m["shape"] == "tiny");
  CHECK(m["random_weights"] == true);
  CHECK(m["params"].get<int64_t>() > 0);
  // Every task x batch either measured or listed as skipped, never silently dropped.
  REQUIRE(m["results"].size() + m["skipped"].size() == 6);
  int per_s_keys = 0;
  for (const auto& res : m["results"]) {
    INFO(res.dump());
    REQUIRE(!res.contains("error"));
    const std::string task = res["task"];
    const std::string key = task == "image" ? "images_per_s" : "texts_per_s";
    REQUIRE(res.contains(key));
    const double rate = res[key];
    CHECK(std::isfinite(rate));
    CHECK(rate > 0);
    CHECK(res["latency_ms_p50"].get<double>() > 0);
    CHECK(res["latency_ms_p50"].get<double>() <= res["latency_ms_p99"].get<double>());
    CHECK(res["iters"].get<int>() >= 1);
    CHECK(res["host_peak_rss_bytes"].get<int64_t>() > 0);
    for (auto it = res.begin(); it != res.end(); ++it)
      if (it.key().size() > 6 && it.key().compare(it.key().size() - 6, 6, "_per_s") == 0) ++per_s_keys;
  }
  CHECK(per_s_keys == (int)m["results"].size());
  // Caption-length texts are shorter than the full context, which the full-length task uses.
  CHECK(m["caption_tokens"].get<int>() < 77);
}

TEST_CASE("cuclip bench lists configurations that do not fit the time budget as skipped", "[bench]") {
  // A budget of 1 ms: after batch 1 of each task is measured, batch 4096 cannot fit.
  const Run r = run_cli("bench --shapes tiny --backend cpu --batch 1,4096 --tasks text_full --iters 2 --max-seconds 0.001 --json");
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  const nlohmann::json j = nlohmann::json::parse(r.out);
  const auto& m = j["models"][0];
  REQUIRE(m["skipped"].size() >= 1);
  CHECK(m["skipped"].back()["batch"] == 4096);
  CHECK(m["skipped"].back()["reason"].get<std::string>().find("--max-seconds") != std::string::npos);
}

TEST_CASE("cuclip bench with an unavailable backend reports an error object and exits 1", "[bench]") {
  const Run r = run_cli("bench --shapes tiny --backend cuda --batch 1 --iters 1 --json");
  INFO(r.out);
  if (r.exit_code == 0) {
    // A build with the CUDA backend on a GPU machine: then it must have measured on CUDA.
    CHECK(nlohmann::json::parse(r.out)["backend"] == "cuda");
    return;
  }
  CHECK(r.exit_code == 1);
  const nlohmann::json j = nlohmann::json::parse(r.out);
  REQUIRE(j.contains("error"));
  CHECK(!j["error"].get<std::string>().empty());
}

TEST_CASE("cuclip bench refuses an unknown shape and a bad batch list", "[bench]") {
  CHECK(run_cli("bench --shapes ViT-Q/7 --json").exit_code == 1);
  CHECK(run_cli("bench --shapes tiny --batch 0 --json").exit_code == 1);
  CHECK(run_cli("bench --shapes tiny --tasks video --json").exit_code == 1);
}
