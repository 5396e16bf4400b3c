// Images resized on the device (kernels/resize.cu, planned by img::plan_resample, laid out by
// engine/src/resize_batch.hpp) must give the model exactly the pixels the host pipeline gives:
// the same context type with CUCLIP_GPU_RESIZE=0 (every image preprocessed on the host) is the
// reference. Inputs: every decodable fixture image (all the modes and formats cuclip reads, so
// palette, alpha, CMYK and 16-bit images ride along as host-preprocessed items in the same
// batches), failing files among them, and caller pixel views of extreme sizes and padded strides.
// A tiny staging budget (CUCLIP_GPU_RESIZE_BUDGET) sends most items past it the host's way inside
// the same chunks. Under the emulator the forward does not depend on where the pixels came from,
// so the embeddings must agree bit for bit.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "backend_testing.hpp"
#include "emulator/emu_testing.hpp"  // test_seed, CUCLIP_SEED_INFO

using namespace cuclip_test;

namespace {

struct Env {
  const char* name;
  Env(const char* n, const char* v) : name(n) { REQUIRE(setenv(n, v, 1) == 0); }
  ~Env() { unsetenv(name); }
};

cuclip_context* make_ctx(cuclip_model* m, int max_batch) {
  cuclip_context_params p = cuclip_context_default_params();
  p.backend = kGpuBackend;
  p.dtype = CUCLIP_DTYPE_F32;
  p.max_batch = max_batch;
  cuclip_context* ctx = nullptr;
  INFO(cuclip_last_error());
  REQUIRE(cuclip_context_create(m, p, &ctx) == CUCLIP_OK);
  return ctx;
}

struct Result {
  std::vector<float> emb;
  std::vector<cuclip_status> st;
};

struct Inputs {
  std::vector<std::string> files;
  std::vector<std::vector<uint8_t>> pixel_data;
  std::vector<cuclip_image_view> views;
};

Inputs make_inputs(unsigned seed) {
  Inputs in;
  for (const auto& e : std::filesystem::directory_iterator(data_path("images/inputs"))) in.files.push_back(e.path().string());
  std::sort(in.files.begin(), in.files.end());
  in.files.insert(in.files.begin() + 3, data_path("no_such_image.png"));  // fails, mid-chunk
  std::mt19937 rng(seed);
  struct Shape { int w, h, ch, pad; };
  // 1x1, single rows and columns, a 4:3 photo, a 1080p-like frame (scaled down for the emulator),
  // odd sizes with padded strides, gray, and RGBA (host path).
  for (Shape s : {Shape{1, 1, 3, 0}, Shape{300, 1, 3, 0}, Shape{1, 200, 1, 0}, Shape{160, 120, 3, 0},
                  Shape{384, 216, 3, 0}, Shape{37, 91, 3, 5}, Shape{91, 37, 1, 3}, Shape{50, 70, 4, 0}}) {
    const int stride = s.w * s.ch + s.pad;
    std::vector<uint8_t> px((size_t)stride * s.h);
    for (auto& v : px) v = (uint8_t)(rng() & 0xff);
    in.pixel_data.push_back(std::move(px));
    const cuclip_pixel_format f = s.ch == 1 ? CUCLIP_PIXELS_L8 : s.ch == 3 ? CUCLIP_PIXELS_RGB8 : CUCLIP_PIXELS_RGBA8;
    in.views.push_back({in.pixel_data.back().data(), s.w, s.h, s.pad ? stride : 0, f});
  }
  for (size_t i = 0; i < in.views.size(); ++i) in.views[i].pixels = in.pixel_data[i].data();
  return in;
}

Result encode(cuclip_context* ctx, const Inputs& in, int D) {
  std::vector<const char*> pp;
  for (const auto& f : in.files) pp.push_back(f.c_str());
  const size_t nf = in.files.size(), nv = in.views.size();
  Result r{std::vector<float>((nf + nv) * D), std::vector<cuclip_status>(nf + nv)};
  (void)cuclip_encode_image_files(ctx, pp.data(), (int)nf, r.emb.data(), r.st.data());
  (void)cuclip_encode_image_pixels(ctx, in.views.data(), (int)nv, r.emb.data() + nf * D, r.st.data() + nf);
  return r;
}

void require_same(const Result& got, const Result& ref, int D, const Inputs& in, const std::string& what) {
  REQUIRE(got.st == ref.st);
  for (size_t i = 0; i < ref.st.size(); ++i) {
    INFO(what << ", item " << i << " (" << (i < in.files.size() ? in.files[i] : "pixel view") << "), status " << ref.st[i]);
    const float* g = got.emb.data() + i * D;
    const float* r = ref.emb.data() + i * D;
    if (ref.st[i] != CUCLIP_OK) {
      CHECK(std::isnan(g[0]));
      continue;
    }
#if defined(CUCLIP_EMU)
    CHECK(std::equal(g, g + D, r));  // the same forward on the same pixels
#else
    CHECK(cosine(g, r, (size_t)D) >= 0.999999);  // cuBLASLt may still choose per call
#endif
  }
}

}  // namespace

TEST_CASE("device_resize_gives_the_host_pipelines_pixels", "[gpu_backend][resize]") {
  CUCLIP_SEED_INFO();
  const Inputs in = make_inputs(test_seed());
  // One transformers (shortest edge + crop, convert first) and one open_clip (resize on the
  // decoded mode, then RGB) fixture: the two orders.
  for (const std::string name : {"hf_legacy_quickgelu_f32", "openclip_openai_quickgelu_f32"}) {
    INFO(name);
    cuclip_model* m = nullptr;
    REQUIRE(cuclip_model_load(converted_fixture(name).c_str(), cuclip_model_default_params(), &m) == CUCLIP_OK);
    const int D = cuclip_model_embed_dim(m);
    Result host;
    {
      Env off("CUCLIP_GPU_RESIZE", "0");
      cuclip_context* ctx = make_ctx(m, 5);
      host = encode(ctx, in, D);
      cuclip_context_free(ctx);
    }
    size_t ok = 0;
    for (cuclip_status s : host.st) ok += s == CUCLIP_OK;
    CHECK(ok >= in.files.size() - 3);  // everything but the missing file (and formats cuclip refuses)
    {
      cuclip_context* ctx = make_ctx(m, 5);
      require_same(encode(ctx, in, D), host, D, in, "device resize");
      require_same(encode(ctx, in, D), host, D, in, "device resize, again (recorded forwards)");
      cuclip_context_free(ctx);
    }
    {
      Env tiny("CUCLIP_GPU_RESIZE_BUDGET", "60000");  // a few small images per chunk, the rest on the host
      cuclip_context* ctx = make_ctx(m, 5);
      require_same(encode(ctx, in, D), host, D, in, "device resize past its budget");
      cuclip_context_free(ctx);
    }
    {
      Env none("CUCLIP_GPU_RESIZE_BUDGET", "16");  // not even the identity items fit: the host path
      cuclip_context* ctx = make_ctx(m, 5);
      require_same(encode(ctx, in, D), host, D, in, "no staging at all");
      cuclip_context_free(ctx);
    }
    cuclip_model_free(m);
  }
}
