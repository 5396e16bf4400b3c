// cuclip embed / cuclip similarity
#include <cmath>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "base/npy.hpp"
#include "cli.hpp"
#include "inputs.hpp"

namespace cli {

namespace {

struct Item {
  bool is_text;
  std::string value;  // the text or the image path
  std::string label;  // for messages: "text 3" / the path
  bool pre_failed = false;
};

// Encodes every item into rows[n, D] in input order; failed items get NaN rows and a stderr line.
// Returns the number of failed items.
size_t encode_items(cuclip_context* ctx, int D, std::vector<Item>& items, std::vector<float>& rows, const char* cmd,
                    bool progress = true) {
  rows.assign(items.size() * (size_t)D, NAN);
  std::vector<size_t> ti, ii;
  for (size_t i = 0; i < items.size(); ++i) (items[i].is_text ? ti : ii).push_back(i);
  size_t failed = 0, done = 0;
  Progress prog("embedding", progress ? items.size() : 0);
  const size_t chunk = 256;
  auto run = [&](const std::vector<size_t>& idx, bool text) {
    for (size_t s = 0; s < idx.size(); s += chunk) {
      const size_t n = std::min(chunk, idx.size() - s);
      std::vector<const char*> ptrs(n);
      for (size_t j = 0; j < n; ++j) ptrs[j] = items[idx[s + j]].value.c_str();
      std::vector<float> out(n * (size_t)D);
      std::vector<cuclip_status> st(n);
      cuclip_status r = text ? cuclip_encode_texts(ctx, ptrs.data(), (int)n, out.data(), st.data())
                             : cuclip_encode_image_files(ctx, ptrs.data(), (int)n, out.data(), st.data());
      (void)r;
      for (size_t j = 0; j < n; ++j) {
        Item& it = items[idx[s + j]];
        if (it.pre_failed) { ++failed; continue; }
        if (st[j] != CUCLIP_OK) {
          // Re-run the one item alone to get its own message (the batch message names the first failure).
          std::vector<float> one((size_t)D);
          cuclip_status s1 = text ? cuclip_encode_texts(ctx, &ptrs[j], 1, one.data(), nullptr)
                                  : cuclip_encode_image_files(ctx, &ptrs[j], 1, one.data(), nullptr);
          std::fprintf(stderr, "cuclip %s: %s: %s\n", cmd, it.label.c_str(), s1 != CUCLIP_OK ? cuclip_last_error() : cuclip_status_string(st[j]));
          ++failed;
          continue;
        }
        std::copy(out.begin() + (ptrdiff_t)(j * D), out.begin() + (ptrdiff_t)((j + 1) * D), rows.begin() + (ptrdiff_t)(idx[s + j] * D));
      }
      done += n;
      prog.update(done);
    }
  };
  run(ti, true);
  run(ii, false);
  return failed;
}

bool parse_item_arg(Args& a, const std::string& f, std::vector<Item>& items, const char* cmd) {
  if (f == "--text") { items.push_back({true, need_value(a, f), "text " + std::to_string(items.size() + 1)}); return true; }
  if (f == "--image") { std::string p = need_value(a, f); items.push_back({false, p, p}); return true; }
  if (f == "--images") {
    for (auto& p : expand_images(need_value(a, f))) items.push_back({false, p, p});
    return true;
  }
  if (f == "--texts") {
    const std::string path = need_value(a, f);
    std::vector<std::string> bad;
    std::vector<size_t> bad_idx;
    auto texts = read_texts(path, &bad, &bad_idx);
    const size_t base = items.size();
    for (size_t i = 0; i < texts.size(); ++i) items.push_back({true, texts[i], path + ":" + std::to_string(i + 1)});
    for (size_t k = 0; k < bad.size(); ++k) {
      items[base + bad_idx[k]].pre_failed = true;
      std::fprintf(stderr, "cuclip %s: %s\n", cmd, bad[k].c_str());
    }
    return true;
  }
  return false;
}

// Several GPUs: one context per device, the inputs split into contiguous shares (one per device,
// each run by its own thread), the rows put back in input order.
size_t encode_items_on_devices(cuclip_model* m, const Common& c, const std::vector<int>& devices, int D,
                               std::vector<Item>& items, std::vector<float>& rows, bool* ok) {
  const size_t n = items.size(), k = devices.size();  // every device is opened (and checked), even with fewer inputs
  std::vector<cuclip_context*> ctx(k, nullptr);
  *ok = true;
  for (size_t d = 0; d < k && *ok; ++d) *ok = (ctx[d] = open_context(m, c, devices[d])) != nullptr;
  size_t failed = 0;
  if (*ok) {
    std::vector<std::vector<Item>> shares(k);
    std::vector<std::vector<float>> share_rows(k);
    std::vector<size_t> share_failed(k, 0), begin(k + 1);
    for (size_t d = 0; d <= k; ++d) begin[d] = n * d / k;
    for (size_t d = 0; d < k; ++d) shares[d].assign(items.begin() + (ptrdiff_t)begin[d], items.begin() + (ptrdiff_t)begin[d + 1]);
    std::vector<std::thread> threads;
    for (size_t d = 0; d < k; ++d)
      threads.emplace_back([&, d] { share_failed[d] = encode_items(ctx[d], D, shares[d], share_rows[d], "embed", false); });
    for (auto& t : threads) t.join();
    rows.clear();
    for (size_t d = 0; d < k; ++d) {
      rows.insert(rows.end(), share_rows[d].begin(), share_rows[d].end());
      failed += share_failed[d];
    }
  }
  for (cuclip_context* x : ctx)
    if (x) cuclip_context_free(x);
  return failed;
}

const char* kEmbedHelp =
    "usage: cuclip embed [-m MODEL] [--backend auto|cpu|cuda|cuda-emu] [--dtype f32|f16|bf16] [--threads N] [--batch N]\n"
    "                    [--devices 0,1,...] (--text T | --texts FILE | --image PATH | --images DIR_OR_LIST)...\n"
    "                    -o OUT.npy|OUT.jsonl\n"
    "Writes L2-normalized float32 embeddings [N, D], one row per input in the order given.\n"
    "--devices splits the inputs over several GPUs (one context per device; CUDA backends).\n"
    "--texts takes a .jsonl file of JSON strings or a plain file of one text per line; --images a directory\n"
    "or a file listing one image path per line. A failed input gets a stderr line naming it and a NaN row;\n"
    "the exit code is then 2 (1 when nothing could be produced).\n";

}  // namespace

int cmd_embed(Args& a) {
  Common c;
  std::vector<Item> items;
  std::string out_path;
  std::vector<int> devices;
  while (!a.done()) {
    const std::string f = a.peek();
    if (f == "-h" || f == "--help") { std::fputs(kEmbedHelp, stdout); return 0; }
    if (parse_common(a, c)) continue;
    a.next();
    if (parse_item_arg(a, f, items, "embed")) continue;
    if (f == "-o" || f == "--output") out_path = need_value(a, f);
    else if (f == "--devices") devices = parse_devices(need_value(a, f), f);
    else throw UsageError{"unexpected argument '" + f + "'"};
  }
  if (out_path.empty()) throw UsageError{"-o OUT.npy|OUT.jsonl is required"};
  if (items.empty()) throw UsageError{"no inputs: give --text, --texts, --image or --images"};
  const bool jsonl = out_path.size() >= 6 && out_path.compare(out_path.size() - 6, 6, ".jsonl") == 0;
  if (devices.size() > 1 && c.backend != "cuda" && c.backend != "cuda-emu" && c.backend != "auto")
    throw UsageError{"--devices needs a CUDA backend (--backend cuda or cuda-emu)"};
  cuclip_model* m = open_model(c);
  if (!m) return 1;
  const int D = cuclip_model_embed_dim(m);
  std::vector<float> rows;
  size_t failed = 0;
  cuclip_context* ctx = nullptr;
  if (devices.size() > 1) {
    bool ok = false;
    failed = encode_items_on_devices(m, c, devices, D, items, rows, &ok);
    if (!ok) { cuclip_model_free(m); return 1; }
  } else {
    ctx = open_context(m, c, devices.empty() ? 0 : devices[0]);
    if (!ctx) { cuclip_model_free(m); return 1; }
    failed = encode_items(ctx, D, items, rows, "embed");
  }
  int rc = failed == 0 ? 0 : failed == items.size() ? 1 : 2;
  if (jsonl) {
    std::string tmp = out_path + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "wb");
    bool ok = f != nullptr;
    for (size_t i = 0; ok && i < items.size(); ++i) {
      std::string line = std::string("{\"") + (items[i].is_text ? "text" : "image") + "\": " + json_string(items[i].value) + ", \"embedding\": ";
      if (std::isnan(rows[i * D])) line += "null";
      else {
        line += "[";
        for (int d = 0; d < D; ++d) {
          char b[32];
          std::snprintf(b, sizeof b, "%s%.9g", d ? ", " : "", rows[i * D + d]);
          line += b;
        }
        line += "]";
      }
      ok = std::fprintf(f, "%s}\n", line.c_str()) > 0;
    }
    if (f && std::fclose(f) != 0) ok = false;
    if (!ok || std::rename(tmp.c_str(), out_path.c_str()) != 0) {
      std::remove(tmp.c_str());
      print_error("embed", "cannot write '" + out_path + "'");
      rc = 1;
    }
  } else {
    cuclip::Status s = cuclip::npy_write_f32(out_path, {(int64_t)items.size(), D}, rows.data());
    if (!s.ok()) { print_error("embed", s.message); rc = 1; }
  }
  if (ctx) cuclip_context_free(ctx);
  cuclip_model_free(m);
  return rc;
}

int cmd_similarity(Args& a) {
  Common c;
  std::vector<Item> items;
  while (!a.done()) {
    const std::string f = a.peek();
    if (f == "-h" || f == "--help") {
      std::fputs("usage: cuclip similarity [-m MODEL] (--image PATH | --images DIR_OR_LIST)... (--text T | --texts FILE)...\n"
                 "Prints {\"images\": [...], \"texts\": [...], \"logits\": [[...]]}: exp(logit_scale) * cosine (+ logit_bias),\n"
                 "one row per image. Failed inputs get a stderr line, null logits and exit code 2.\n", stdout);
      return 0;
    }
    if (parse_common(a, c)) continue;
    a.next();
    if (!parse_item_arg(a, f, items, "similarity")) throw UsageError{"unexpected argument '" + f + "'"};
  }
  std::vector<Item> imgs, txts;
  for (auto& it : items) (it.is_text ? txts : imgs).push_back(it);
  if (imgs.empty() || txts.empty()) throw UsageError{"give at least one image and one text"};
  cuclip_model* m = open_model(c);
  if (!m) return 1;
  cuclip_context* ctx = open_context(m, c);
  if (!ctx) { cuclip_model_free(m); return 1; }
  const int D = cuclip_model_embed_dim(m);
  std::vector<float> ie, te;
  size_t failed = encode_items(ctx, D, imgs, ie, "similarity") + encode_items(ctx, D, txts, te, "similarity");
  std::vector<float> logits(imgs.size() * txts.size());
  cuclip_similarity(m, ie.data(), (int)imgs.size(), te.data(), (int)txts.size(), logits.data());
  std::string o = "{\"images\": [";
  for (size_t i = 0; i < imgs.size(); ++i) o += (i ? ", " : "") + json_string(imgs[i].value);
  o += "], \"texts\": [";
  for (size_t j = 0; j < txts.size(); ++j) o += (j ? ", " : "") + json_string(txts[j].value);
  o += "], \"logits\": [";
  for (size_t i = 0; i < imgs.size(); ++i) {
    o += i ? ", [" : "[";
    for (size_t j = 0; j < txts.size(); ++j) {
      float v = logits[i * txts.size() + j];
      char b[32];
      std::snprintf(b, sizeof b, "%.7g", v);
      o += (j ? ", " : "") + (std::isfinite(v) ? std::string(b) : std::string("null"));
    }
    o += "]";
  }
  std::printf("%s]}\n", o.c_str());
  cuclip_context_free(ctx);
  cuclip_model_free(m);
  return failed == 0 ? 0 : failed == items.size() ? 1 : 2;
}

}  // namespace cli
