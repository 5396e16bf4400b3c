// Fuzzer: the .cuclip loader and validator (ModelFile::parse on the raw bytes). A file that passes
// must be internally consistent: every tensor lies inside the buffer with the byte size its shape
// implies, `verify` and `info_json` work, and the stored tokenizer builds (or is refused cleanly).
#include <cstring>

#include "cuclip/tokenizer.hpp"
#include "fuzz_common.hpp"
#include "model.hpp"  // tokenizer_spec_from_config: what Model::load builds the tokenizer from (inline)
#include "model_file.hpp"

using namespace cuclip;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::unique_ptr<ModelFile> m;
  Status s = ModelFile::parse(data, size, LoadLimits{}, &m);
  cuclip_fuzz::check_refusal(s);
  if (!s.ok()) {
    FUZZ_CHECK(m == nullptr);
    return 0;
  }
  FUZZ_CHECK(m != nullptr);
  for (const TensorInfo& t : m->tensors()) {
    FUZZ_CHECK(t.data >= data && t.data + t.bytes <= data + size);
    FUZZ_CHECK((uint64_t)t.numel() * dtype_size(t.dtype) == t.bytes);
    FUZZ_CHECK(m->find(t.name) == &t);
  }
  cuclip_fuzz::check_refusal(m->verify());  // reads every tensor byte: ASan checks the bounds
  (void)m->info_json().dump(2);
  // What Model::load does next with a validated file.
  std::unique_ptr<tok::Tokenizer> tok;
  Status ts = tok::Tokenizer::create(tokenizer_spec_from_config(m->tokenizer()), &tok);
  cuclip_fuzz::check_refusal(ts);
  if (ts.ok()) {
    std::vector<int32_t> ids((size_t)m->config().text.context_length);
    Status es = tok->encode_padded("a photo of a cat", 0, ids.data());
    cuclip_fuzz::check_refusal(es);
    if (es.ok())
      for (int32_t id : ids) FUZZ_CHECK(id >= 0 && id < m->config().text.vocab_size);
  }
  return 0;
}
