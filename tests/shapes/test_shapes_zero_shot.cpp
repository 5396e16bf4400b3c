// The bundled "shapes" model (models/shapes.cuclip) really classifies zero-shot: fresh images from
// this test's own drawer (shape_drawer.hpp, not the training script's), classified through the C
// API among all 18 labels "a {color} {shape}" with the model's default templates, are right at
// least 90% of the time. Accuracy per class and on the color-shape combinations held out of
// training is printed; the held-out number is the zero-shot claim of models/README.md.
#include <cstdio>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "cuclip.h"
#include "shape_drawer.hpp"

namespace {

// Combinations that never appeared in any training image or caption (tools/shapes/train.py HELD_OUT).
bool held_out(int color, int shape) {
  const std::string c = shapes_test::kColors[color], s = shapes_test::kShapes[shape];
  return (c == "purple" && s == "triangle") || (c == "orange" && s == "circle") || (c == "green" && s == "square");
}

struct Tally {
  int right = 0, total = 0;
  void add(bool ok) { right += ok; ++total; }
  double rate() const { return total ? (double)right / total : 0.0; }
};

}  // namespace

TEST_CASE("shapes model classifies freshly drawn shapes zero-shot with >= 90% top-1", "[shapes]") {
  const std::string model_path = CUCLIP_SOURCE_DIR "/models/shapes.cuclip";
  cuclip_model* model = nullptr;
  if (cuclip_model_load(model_path.c_str(), cuclip_model_default_params(), &model) != CUCLIP_OK)
    FAIL("loading " << model_path << ": " << cuclip_last_error());

  cuclip_context_params cp = cuclip_context_default_params();
  cp.backend = CUCLIP_BACKEND_CPU;  // the claim is about the model; the CPU backend is always built
  cuclip_context* ctx = nullptr;
  REQUIRE(cuclip_context_create(model, cp, &ctx) == CUCLIP_OK);

  std::vector<std::string> labels;
  for (const char* c : shapes_test::kColors)
    for (const char* s : shapes_test::kShapes) labels.push_back(std::string("a ") + c + " " + s);
  std::vector<const char*> label_ptrs;
  for (const std::string& l : labels) label_ptrs.push_back(l.c_str());
  cuclip_classifier* clf = nullptr;
  // templates = NULL: the model's own default templates, which for this model are "{}".
  REQUIRE(cuclip_classifier_create(ctx, label_ptrs.data(), (int)labels.size(), nullptr, 0, &clf) == CUCLIP_OK);

  const int D = cuclip_model_embed_dim(model), C = (int)labels.size();
  constexpr int kPerClass = 30;  // 540 images, 90 of held-out combinations: ~4 s on one CPU core
  shapes_test::Rng rng(0x5A17E5ull);
  Tally overall, held, seen;
  std::vector<Tally> per_class(C);
  std::vector<std::string> mistakes;
  for (int round = 0; round < kPerClass; ++round) {
    std::vector<shapes_test::Drawn> batch;
    for (int k = 0; k < C; ++k) batch.push_back(shapes_test::draw_shape(rng, k / 3, k % 3));
    std::vector<cuclip_image_view> views;
    for (const auto& d : batch) views.push_back({d.image.rgb.data(), d.image.width, d.image.height, 0, CUCLIP_PIXELS_RGB8});
    std::vector<float> emb((size_t)C * D), probs((size_t)C * C);
    std::vector<cuclip_status> st(C);
    REQUIRE(cuclip_encode_image_pixels(ctx, views.data(), C, emb.data(), st.data()) == CUCLIP_OK);
    REQUIRE(cuclip_classify_embeddings(clf, emb.data(), C, probs.data()) == CUCLIP_OK);
    for (int i = 0; i < C; ++i) {
      int best = 0;
      for (int j = 1; j < C; ++j)
        if (probs[(size_t)i * C + j] > probs[(size_t)i * C + best]) best = j;
      const int truth = batch[i].color * 3 + batch[i].shape;
      const bool ok = best == truth;
      overall.add(ok);
      per_class[truth].add(ok);
      (held_out(batch[i].color, batch[i].shape) ? held : seen).add(ok);
      if (!ok && mistakes.size() < 40)
        mistakes.push_back(labels[truth] + " (" + std::to_string(batch[i].image.width) + "x" +
                           std::to_string(batch[i].image.height) + ", on " + batch[i].background + ") -> " + labels[best]);
    }
  }

  std::string table = "per class top-1:\n";
  for (int k = 0; k < C; ++k) {
    char line[128];
    std::snprintf(line, sizeof line, "  %-18s %5.1f%% (%d/%d)%s\n", labels[k].c_str(), 100 * per_class[k].rate(),
                  per_class[k].right, per_class[k].total, held_out(k / 3, k % 3) ? "  [held out of training]" : "");
    table += line;
  }
  for (const std::string& m : mistakes) table += "  wrong: " + m + "\n";
  char summary[256];
  std::snprintf(summary, sizeof summary, "overall %.1f%% (%d/%d); seen combinations %.1f%%; held-out combinations %.1f%% (%d/%d)",
                100 * overall.rate(), overall.right, overall.total, 100 * seen.rate(), 100 * held.rate(), held.right, held.total);
  WARN(table << summary);

  // The held-out accuracy must be measured (it is reported, and stated in the model card), but
  // only the overall rate carries the issue's >= 90% requirement.
  REQUIRE(held.total >= 30);
  REQUIRE(overall.rate() >= 0.90);

  cuclip_classifier_free(clf);
  cuclip_context_free(ctx);
  cuclip_model_free(model);
}
