// Byte-level BPE over a CLIP vocabulary: UTF-8 bytes -> byte symbols (the last one with "</w>") ->
// merges applied by rank. Reproduces open_clip's SimpleTokenizer.bpe() exactly, including its
// round structure (each round merges every occurrence of the lowest-ranked pair, left to right), in
// O(n log n) per word so that a 100k-letter "word" stays cheap. Results are cached (bounded).
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.hpp"

namespace cuclip::tok::detail {

// bytes_to_unicode(): byte -> the code point that stands for it in vocabulary strings.
const std::array<char32_t, 256>& byte_to_unicode();
// The order in which open_clip lists the byte symbols (printable bytes first).
const std::array<uint8_t, 256>& byte_symbol_order();

class BpeModel {
 public:
  BpeModel();
  ~BpeModel();
  // Builds the tables and validates: duplicate tokens, missing byte symbols, malformed merges,
  // merges whose parts or result are not in the vocab, duplicate merges.
  Status build(const std::vector<std::string>& vocab, const std::vector<std::string>& merges);

  // Appends the ids of one pre-token given as raw UTF-8 bytes (non-empty).
  void encode_word(std::string_view bytes, std::vector<int32_t>* out) const;
  // The same without the cache (used for very long words and by tests).
  void encode_word_uncached(std::string_view bytes, std::vector<int32_t>* out) const;

  // Words up to this many bytes take the allocation-free quadratic path; longer ones the heap.
  static constexpr size_t kShortWordBytes = 32;

 private:
  void encode_short_word(const uint8_t* p, size_t n, std::vector<int32_t>* out) const;

  struct MergeTable;
  struct Cache;
  std::array<int32_t, 256> byte_id_{}, byte_eow_id_{};
  std::unique_ptr<MergeTable> merges_;
  std::unique_ptr<Cache> cache_;
};

}  // namespace cuclip::tok::detail
