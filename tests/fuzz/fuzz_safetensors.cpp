// Fuzzer: the converter's safetensors parser (Checkpoint::add_buffer). An accepted buffer must
// describe tensors that tile the data section inside the buffer with byte sizes equal to
// shape x dtype; every byte of every tensor is read so that ASan checks the bounds.
#include "fuzz_common.hpp"
#include "safetensors.hpp"

using namespace cuclip;
using namespace cuclip::convert;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Checkpoint ck;
  Status s = ck.add_buffer(data, size, "fuzz.safetensors");
  cuclip_fuzz::check_refusal(s);
  if (!s.ok()) {
    FUZZ_CHECK(ck.tensors().empty());  // all or nothing
    return 0;
  }
  uint64_t total = 0;
  for (const auto& [name, t] : ck.tensors()) {
    FUZZ_CHECK(t.name == name);
    FUZZ_CHECK(t.bytes == 0 || (t.data >= data && t.data + t.bytes <= data + size));
    total += t.bytes;
    volatile uint8_t sink = 0;
    for (uint64_t i = 0; i < t.bytes; ++i) sink = sink ^ t.data[i];
    (void)sink;
    FUZZ_CHECK(ck.find(name) == &t);
  }
  FUZZ_CHECK(total <= size);
  // The same buffer twice: every name is now a duplicate, refused without touching the first.
  const size_t before = ck.tensors().size();
  Status again = ck.add_buffer(data, size, "fuzz-again.safetensors");
  if (before > 0) FUZZ_CHECK(!again.ok());
  FUZZ_CHECK(ck.tensors().size() == before);
  return 0;
}
