// The command-line tools end to end: output formats, exit codes (0 ok, 2 some items failed with a
// NaN row / error line naming each, 1 nothing produced), --help everywhere, and the C example.
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "base/npy.hpp"
#include "common/testing.hpp"
#include "fixture_models.hpp"

using namespace cuclip_test;
using nlohmann::json;

namespace {

struct Run {
  int code = -1;
  std::string out, err;
};

// Runs a shell command line; stdout and stderr are captured separately.
Run run(const std::string& cmd, const std::string& stdin_text = "") {
  const std::string dir = temp_dir();
  const std::string in = dir + "/stdin.txt", out = dir + "/stdout.txt", err = dir + "/stderr.txt";
  std::ofstream(in, std::ios::binary) << stdin_text;
  Run r;
  int st = std::system((cmd + " <" + in + " >" + out + " 2>" + err).c_str());
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream fo(out), fe(err);
  std::stringstream so, se;
  so << fo.rdbuf();
  se << fe.rdbuf();
  r.out = so.str();
  r.err = se.str();
  return r;
}

std::string cuclip_exe() { return binary_path("cuclip"); }
std::string model() { return converted_fixture("openclip_openai_quickgelu_f32"); }
std::string img(const char* f) { return data_path(std::string("reference/images/") + f); }

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> v;
  std::stringstream ss(s);
  std::string l;
  while (std::getline(ss, l)) v.push_back(l);
  return v;
}

}  // namespace

TEST_CASE("every_subcommand_has_help") {
  for (const char* c : {"info", "verify", "tokenize", "preprocess", "embed", "classify", "similarity"}) {
    Run r = run(cuclip_exe() + " " + c + " --help");
    INFO(c);
    CHECK(r.code == 0);
    CHECK(r.out.find("usage: cuclip") != std::string::npos);
  }
  CHECK(run(cuclip_exe() + " --help").code == 0);
  CHECK(run(cuclip_exe() + " frobnicate").code == 1);
  CHECK(run(cuclip_exe() + " embed --bogus").code == 1);
}

TEST_CASE("tokenize_prints_one_array_per_input_and_names_bad_lines") {
  Run r = run(cuclip_exe() + " tokenize -m " + model() + " 'a cat' 'A CAT'");
  REQUIRE(r.code == 0);
  auto ls = lines(r.out);
  REQUIRE(ls.size() == 2);
  CHECK(ls[0] == ls[1]);  // lowercasing
  auto ids = json::parse(ls[0]);
  CHECK(ids.size() == 77);
  CHECK(ids[0] == 49406);
  // --jsonl: line 2 is not JSON, line 3 has invalid UTF-8; lines 1 and 4 are still tokenized.
  r = run(cuclip_exe() + " tokenize -m " + model() + " --jsonl --context-length 8", "\"first\\nline\"\nnot json\n\"\xff\"\n\"last\"\n");
  CHECK(r.code == 2);
  ls = lines(r.out);
  REQUIRE(ls.size() == 2);
  CHECK(json::parse(ls[0]).size() == 8);
  CHECK(r.err.find("line 2") != std::string::npos);
  CHECK(r.err.find("line 3") != std::string::npos);
  // plain stdin: one text per line, invalid UTF-8 named by line
  r = run(cuclip_exe() + " tokenize -m " + model(), "hello world\nbad \xc3\n");
  CHECK(r.code == 2);
  CHECK(lines(r.out).size() == 1);
  CHECK(r.err.find("line 2") != std::string::npos);
}

TEST_CASE("embed_writes_rows_in_input_order_with_nan_rows_for_failures_and_exit_2") {
  const std::string out = temp_dir() + "/emb.npy";
  const std::string texts = temp_dir() + "/texts.jsonl";
  std::ofstream(texts) << "\"a red circle\"\n{\"not\": \"a string\"}\n\"two\\nlines\"\n";
  Run r = run(cuclip_exe() + " embed --backend cpu -m " + model() + " --text hello --image " + img("rgb_scene_121x91.jpg") + " --image /nonexistent.png --texts " +
              texts + " -o " + out);
  INFO(r.err);
  CHECK(r.code == 2);
  CHECK(r.err.find("/nonexistent.png") != std::string::npos);
  CHECK(r.err.find("texts.jsonl:2") != std::string::npos);
  cuclip::NpyArray a;
  REQUIRE(cuclip::npy_read(out, &a).ok());
  REQUIRE(a.shape.size() == 2);
  REQUIRE(a.shape[0] == 6);
  const int D = (int)a.shape[1];
  auto v = a.as_f32();
  for (int row : {2, 4}) CHECK(std::isnan(v[(size_t)row * D]));
  for (int row : {0, 1, 3, 5}) {
    double n2 = 0;
    for (int d = 0; d < D; ++d) n2 += (double)v[(size_t)row * D + d] * v[(size_t)row * D + d];
    CHECK(std::fabs(n2 - 1) < 1e-5);
  }
  // The good image row equals the image embedded alone.
  const std::string one = temp_dir() + "/one.npy";
  REQUIRE(run(cuclip_exe() + " embed --backend cpu -m " + model() + " --image " + img("rgb_scene_121x91.jpg") + " -o " + one).code == 0);
  cuclip::NpyArray b;
  REQUIRE(cuclip::npy_read(one, &b).ok());
  auto w = b.as_f32();
  for (int d = 0; d < D; ++d) CHECK(v[(size_t)D + d] == w[(size_t)d]);
  // Nothing good at all: exit 1.
  CHECK(run(cuclip_exe() + " embed -m " + model() + " --image /nonexistent.png -o " + out).code == 1);
}

TEST_CASE("embed_jsonl_output_and_image_directories") {
  const std::string out = temp_dir() + "/emb.jsonl";
  Run r = run(cuclip_exe() + " embed -m " + model() + " --images " + data_path("reference/images") + " -o " + out);
  INFO(r.err);
  REQUIRE(r.code == 0);
  std::ifstream f(out);
  std::string l;
  int n = 0;
  while (std::getline(f, l)) {
    auto j = json::parse(l);
    CHECK(j.contains("image"));
    CHECK(j["embedding"].size() == 28);
    ++n;
  }
  CHECK(n == 7);
}

TEST_CASE("classify_prints_sorted_probabilities_and_reports_bad_images") {
  Run r = run(cuclip_exe() + " classify -m " + model() + " " + img("palette_33x57.png") + " /nonexistent.jpg --labels 'cat, dog,car' --templates none --top-k 2");
  CHECK(r.code == 2);
  auto ls = lines(r.out);
  REQUIRE(ls.size() == 2);
  auto j = json::parse(ls[0]);
  REQUIRE(j["labels"].size() == 2);
  CHECK(j["labels"][0]["prob"].get<double>() >= j["labels"][1]["prob"].get<double>());
  CHECK(json::parse(ls[1]).contains("error"));
  CHECK(r.err.find("/nonexistent.jpg") != std::string::npos);
  CHECK(run(cuclip_exe() + " classify -m " + model() + " " + img("palette_33x57.png")).code == 1);  // no labels
}

TEST_CASE("similarity_prints_a_logits_matrix") {
  Run r = run(cuclip_exe() + " similarity -m " + model() + " --image " + img("palette_33x57.png") + " --image " + img("tiny_rgb_20x13.png") +
              " --text cat --text dog --text car");
  REQUIRE(r.code == 0);
  auto j = json::parse(r.out);
  REQUIRE(j["logits"].size() == 2);
  CHECK(j["logits"][0].size() == 3);
}

TEST_CASE("preprocess_writes_nchw_float32") {
  const std::string out = temp_dir() + "/px.npy";
  Run r = run(cuclip_exe() + " preprocess -m " + model() + " " + img("palette_33x57.png") + " " + img("wide_strip_200x30.jpg") + " -o " + out);
  REQUIRE(r.code == 0);
  cuclip::NpyArray a;
  REQUIRE(cuclip::npy_read(out, &a).ok());
  CHECK(a.shape == std::vector<int64_t>{2, 3, 33, 33});
}

TEST_CASE("info_and_verify") {
  Run r = run(cuclip_exe() + " info " + model());
  REQUIRE(r.code == 0);
  auto j = json::parse(r.out);
  CHECK(j["config"]["vision"]["patch_size"] == 11);
  CHECK(run(cuclip_exe() + " verify -m " + model()).code == 0);
  // Flip one byte in the last tensor's data: load still works, verify fails naming the tensor.
  std::ifstream in(model(), std::ios::binary);
  std::vector<char> b((std::istreambuf_iterator<char>(in)), {});
  b[b.size() - 300] ^= 0x40;
  const std::string bad = temp_dir() + "/flipped.cuclip";
  std::ofstream(bad, std::ios::binary).write(b.data(), (std::streamsize)b.size());
  r = run(cuclip_exe() + " verify " + bad);
  CHECK(r.code == 1);
  CHECK(r.err.find("checksum mismatch in tensor") != std::string::npos);
  r = run(cuclip_exe() + " info /nonexistent.cuclip");
  CHECK(r.code == 1);
  CHECK(r.err.find("/nonexistent.cuclip") != std::string::npos);
}

TEST_CASE("converter_cli_refuses_with_one_line_and_nonzero_exit") {
  Run r = run(binary_path("cuclip-convert") + " " + data_path("reference") + " -o " + temp_dir() + "/x.cuclip");
  CHECK(r.code == 1);
  CHECK(lines(r.err).size() == 1);
  CHECK(r.err.find("neither config.json") != std::string::npos);
  r = run(binary_path("cuclip-convert") + " " + data_path("models/hf_legacy_quickgelu_f32") + " -o " + temp_dir() + "/y.cuclip --dtype f32");
  CHECK(r.code == 0);
}

TEST_CASE("the_c_example_classifies_images") {
  Run r = run(binary_path("examples/c/cuclip_example_classify") + " " + model() + " 'cat,dog' " + img("palette_33x57.png") + " /nonexistent.png");
  CHECK(r.code == 2);
  auto ls = lines(r.out);
  REQUIRE(ls.size() == 1);
  CHECK(ls[0].find("palette_33x57.png") != std::string::npos);
}
