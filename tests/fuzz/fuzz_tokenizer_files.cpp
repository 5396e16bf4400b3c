// Fuzzer: the tokenizer-file parsers and Tokenizer::create on whatever they accept (a model file
// carries a vocab and merges too, so create() sees attacker-chosen tables). The first byte picks
//   0: vocab.json + merges.txt (split at the first NUL byte)   1: tokenizer.json   2: the CLIP bpe text
// then a short fixed text and a slice of the input are encoded with the result.
#include <cstring>

#include "cuclip/tokenizer.hpp"
#include "fuzz_common.hpp"

using namespace cuclip;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  tok::TokenizerSpec spec;
  Status s;
  switch (data[0] % 3) {
    case 0: {
      const size_t nul = body.find('\0');
      const std::string_view vocab = body.substr(0, nul), merges = nul == std::string_view::npos ? std::string_view() : body.substr(nul + 1);
      s = tok::spec_from_hf_vocab_merges(vocab, merges, &spec);
      break;
    }
    case 1: s = tok::spec_from_hf_tokenizer_json(body, &spec); break;
    default: s = tok::spec_from_clip_bpe(body, &spec); break;
  }
  cuclip_fuzz::check_refusal(s);
  if (!s.ok()) return 0;
  FUZZ_CHECK(spec.sot_id >= 0 && spec.sot_id < (int32_t)spec.vocab.size());
  FUZZ_CHECK(spec.eot_id >= 0 && spec.eot_id < (int32_t)spec.vocab.size());
  std::unique_ptr<tok::Tokenizer> t;
  Status cs = tok::Tokenizer::create(spec, &t);
  cuclip_fuzz::check_refusal(cs);
  if (!cs.ok()) return 0;
  for (std::string_view text : {std::string_view("a photo of a cat"), body.substr(0, 256)}) {
    int32_t ids[16];
    Status es = t->encode_padded(text, 16, ids);
    cuclip_fuzz::check_refusal(es);
    if (!es.ok()) continue;
    FUZZ_CHECK(ids[0] == spec.sot_id);
    for (int32_t id : ids) FUZZ_CHECK(id >= 0 && id < (int32_t)spec.vocab.size());
  }
  return 0;
}
