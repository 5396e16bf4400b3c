// Byte-level BPE with merge ranks (see bpe.hpp).
#include "bpe.hpp"

#include <algorithm>
#include <functional>
#include <unordered_set>

#include "unicode.hpp"

namespace cuclip::tok::detail {

const std::array<char32_t, 256>& byte_to_unicode() {
  static const std::array<char32_t, 256> table = [] {
    std::array<char32_t, 256> t{};
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      t[b] = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + n++);
    }
    return t;
  }();
  return table;
}

const std::array<uint8_t, 256>& byte_symbol_order() {
  static const std::array<uint8_t, 256> order = [] {
    std::array<uint8_t, 256> o{};
    const auto& b2u = byte_to_unicode();
    int k = 0;
    for (int b = 0; b < 256; ++b) if (b2u[b] == static_cast<char32_t>(b)) o[k++] = static_cast<uint8_t>(b);
    for (int b = 0; b < 256; ++b) if (b2u[b] != static_cast<char32_t>(b)) o[k++] = static_cast<uint8_t>(b);
    return o;
  }();
  return order;
}

// Open-addressing hash table: (left id, right id) -> (rank, merged id).
struct BpeModel::MergeTable {
  struct Slot {
    uint64_t key = ~0ull;
    int32_t rank = -1, merged = -1;
  };
  std::vector<Slot> slots;
  uint64_t mask = 0;

  static uint64_t key_of(int32_t a, int32_t b) { return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b); }
  static uint64_t mix(uint64_t k) {
    k ^= k >> 33; k *= 0xff51afd7ed558ccdull; k ^= k >> 33; k *= 0xc4ceb9fe1a85ec53ull; k ^= k >> 33;
    return k;
  }
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    slots.assign(cap, Slot{});
    mask = cap - 1;
  }
  bool insert(int32_t a, int32_t b, int32_t rank, int32_t merged) {  // false if present
    const uint64_t k = key_of(a, b);
    for (uint64_t i = mix(k) & mask;; i = (i + 1) & mask) {
      if (slots[i].key == k) return false;
      if (slots[i].key == ~0ull) { slots[i] = {k, rank, merged}; return true; }
    }
  }
  const Slot* find(int32_t a, int32_t b) const {
    const uint64_t k = key_of(a, b);
    for (uint64_t i = mix(k) & mask;; i = (i + 1) & mask) {
      if (slots[i].key == k) return &slots[i];
      if (slots[i].key == ~0ull) return nullptr;
    }
  }
};

// Word -> ids, sharded so that concurrent encoders rarely wait on each other. Each shard is an
// open-addressing table that is simply emptied when half full: a bound on memory matters more here
// than the hit rate of a pathological stream of distinct words.
struct BpeModel::Cache {
  static constexpr size_t kShards = 16;
  static constexpr size_t kSlotsPerShard = 8192;  // power of two; at most half of them used
  static constexpr size_t kMaxWordBytes = 64;
  struct Entry {
    std::string word;
    std::vector<int32_t> ids;
  };
  // Hashes sit in their own array: probing touches 8 bytes per slot, which keeps the probe in
  // cache even when the entries are not.
  struct Shard {
    std::mutex mu;
    std::vector<uint64_t> hashes;  // 0 = empty
    std::vector<Entry> entries;
    size_t used = 0;
  };
  Shard shards[kShards];

  static uint64_t hash_of(std::string_view s) {  // FNV-1a, never 0
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
    return h | 1;
  }
  // Index of the slot holding `word`, or of the empty slot where it would go.
  static size_t probe(const Shard& shard, uint64_t h, std::string_view word) {
    const size_t mask = kSlotsPerShard - 1;
    for (size_t i = (h >> 4) & mask;; i = (i + 1) & mask) {
      const uint64_t sh = shard.hashes[i];
      if (sh == 0 || (sh == h && shard.entries[i].word == word)) return i;
    }
  }
};

BpeModel::BpeModel() : merges_(new MergeTable), cache_(new Cache) {}
BpeModel::~BpeModel() = default;

Status BpeModel::build(const std::vector<std::string>& vocab, const std::vector<std::string>& merges) {
  std::unordered_map<std::string_view, int32_t> index;
  index.reserve(vocab.size() * 2);
  for (size_t i = 0; i < vocab.size(); ++i) {
    if (!index.emplace(vocab[i], static_cast<int32_t>(i)).second)
      return Err(CUCLIP_ERR_INVALID_MODEL, "tokenizer vocab: duplicate token \"" + vocab[i] + "\" at ids " +
                                               std::to_string(index[vocab[i]]) + " and " + std::to_string(i));
  }
  const auto& b2u = byte_to_unicode();
  for (int b = 0; b < 256; ++b) {
    std::string sym;
    append_utf8(b2u[b], &sym);
    auto it = index.find(sym);
    auto it_eow = index.find(sym + "</w>");
    if (it == index.end() || it_eow == index.end())
      return Err(CUCLIP_ERR_INVALID_MODEL, "tokenizer vocab: no symbol for byte " + std::to_string(b) + " (\"" + sym +
                                               "\" and \"" + sym + "</w>\" are both required)");
    byte_id_[b] = it->second;
    byte_eow_id_[b] = it_eow->second;
  }
  merges_->reserve(merges.size());
  for (size_t r = 0; r < merges.size(); ++r) {
    const std::string& m = merges[r];
    const size_t sp = m.find(' ');
    if (sp == std::string::npos || sp == 0 || sp + 1 >= m.size() || m.find(' ', sp + 1) != std::string::npos)
      return Err(CUCLIP_ERR_INVALID_MODEL, "tokenizer merge " + std::to_string(r) + " \"" + m + "\" is not \"left right\"");
    const std::string left = m.substr(0, sp), right = m.substr(sp + 1);
    auto a = index.find(left), b = index.find(right), ab = index.find(left + right);
    if (a == index.end() || b == index.end() || ab == index.end())
      return Err(CUCLIP_ERR_INVALID_MODEL, "tokenizer merge " + std::to_string(r) + " \"" + m + "\": \"" +
                                               (a == index.end() ? left : b == index.end() ? right : left + right) +
                                               "\" is not in the vocab");
    if (!merges_->insert(a->second, b->second, static_cast<int32_t>(r), ab->second))
      return Err(CUCLIP_ERR_INVALID_MODEL, "tokenizer merge " + std::to_string(r) + " \"" + m + "\" is a duplicate");
  }
  return Status::Ok();
}

// Short words: open_clip's loop itself, on stack arrays (no allocation). Each round finds the
// lowest-ranked adjacent pair and merges all its occurrences left to right; a rank identifies its
// pair, so "pair == lowest pair" is "rank == lowest rank".
void BpeModel::encode_short_word(const uint8_t* p, size_t n, std::vector<int32_t>* out) const {
  int32_t sym[kShortWordBytes], rank[kShortWordBytes], merged[kShortWordBytes];
  for (size_t i = 0; i < n; ++i) sym[i] = (i + 1 == n) ? byte_eow_id_[p[i]] : byte_id_[p[i]];
  auto lookup = [&](size_t i) {
    const MergeTable::Slot* s = merges_->find(sym[i], sym[i + 1]);
    rank[i] = s ? s->rank : -1;
    merged[i] = s ? s->merged : -1;
  };
  for (size_t i = 0; i + 1 < n; ++i) lookup(i);
  while (n > 1) {
    int32_t best = -1;
    for (size_t i = 0; i + 1 < n; ++i)
      if (rank[i] >= 0 && (best < 0 || rank[i] < best)) best = rank[i];
    if (best < 0) break;
    size_t w = 0;
    for (size_t i = 0; i < n; ++w) {
      if (i + 1 < n && rank[i] == best) {
        sym[w] = merged[i];
        i += 2;
      } else {
        sym[w] = sym[i];
        i += 1;
      }
    }
    n = w;
    for (size_t i = 0; i + 1 < n; ++i) lookup(i);
  }
  out->insert(out->end(), sym, sym + n);
}

void BpeModel::encode_word_uncached(std::string_view bytes, std::vector<int32_t>* out) const {
  const size_t n = bytes.size();
  if (n == 0) return;
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  if (n == 1) {
    out->push_back(byte_eow_id_[p[0]]);
    return;
  }
  if (n <= kShortWordBytes) {
    encode_short_word(p, n, out);
    return;
  }
  // Long words: the same rounds in O(n log n) with a heap of (rank, position) entries.
  // Symbols live in a doubly linked list over the initial positions; a merge keeps the left node.
  std::vector<int32_t> sym(n), next(n), prev(n);
  for (size_t i = 0; i < n; ++i) {
    sym[i] = (i + 1 == n) ? byte_eow_id_[p[i]] : byte_id_[p[i]];
    next[i] = (i + 1 == n) ? -1 : static_cast<int32_t>(i + 1);
    prev[i] = static_cast<int32_t>(i) - 1;
  }
  struct Entry {
    int32_t rank, pos, left, right;
    bool operator>(const Entry& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::vector<Entry> heap;
  heap.reserve(n);
  auto push_pair = [&](int32_t pos) {
    if (pos < 0) return;
    const int32_t nx = next[pos];
    if (nx < 0) return;
    if (const MergeTable::Slot* s = merges_->find(sym[pos], sym[nx])) {
      heap.push_back({s->rank, pos, sym[pos], sym[nx]});
      std::push_heap(heap.begin(), heap.end(), std::greater<Entry>());
    }
  };
  auto still_valid = [&](const Entry& e) {
    return sym[e.pos] == e.left && next[e.pos] >= 0 && sym[next[e.pos]] == e.right;
  };
  for (size_t i = 0; i + 1 < n; ++i) push_pair(static_cast<int32_t>(i));

  std::vector<Entry> round;
  while (!heap.empty()) {
    // One round of the reference loop: the lowest-ranked pair, every occurrence, left to right.
    // Entries of one rank pop in position order; merges never recreate the pair being merged.
    round.clear();
    const int32_t rank = heap.front().rank;
    while (!heap.empty() && heap.front().rank == rank) {
      std::pop_heap(heap.begin(), heap.end(), std::greater<Entry>());
      round.push_back(heap.back());
      heap.pop_back();
    }
    for (const Entry& e : round) {
      if (!still_valid(e)) continue;  // consumed by an overlapping merge earlier in this round
      const int32_t right = next[e.pos];
      sym[e.pos] = merges_->find(e.left, e.right)->merged;
      next[e.pos] = next[right];
      if (next[right] >= 0) prev[next[right]] = e.pos;
      sym[right] = -1;
      push_pair(prev[e.pos]);
      push_pair(e.pos);
    }
  }
  for (int32_t i = 0; i >= 0; i = next[i]) out->push_back(sym[i]);
}

void BpeModel::encode_word(std::string_view bytes, std::vector<int32_t>* out) const {
  if (bytes.size() > Cache::kMaxWordBytes) {
    encode_word_uncached(bytes, out);
    return;
  }
  const uint64_t h = Cache::hash_of(bytes);
  Cache::Shard& shard = cache_->shards[h % Cache::kShards];
  {
    std::lock_guard<std::mutex> lock(shard.mu);
    if (!shard.hashes.empty()) {
      const size_t i = Cache::probe(shard, h, bytes);
      if (shard.hashes[i] != 0) {
        const std::vector<int32_t>& ids = shard.entries[i].ids;
        out->insert(out->end(), ids.begin(), ids.end());
        return;
      }
    }
  }
  const size_t start = out->size();
  encode_word_uncached(bytes, out);
  std::lock_guard<std::mutex> lock(shard.mu);
  if (shard.hashes.empty() || shard.used >= Cache::kSlotsPerShard / 2) {
    shard.hashes.assign(Cache::kSlotsPerShard, 0);
    shard.entries.assign(Cache::kSlotsPerShard, Cache::Entry{});
    shard.used = 0;
  }
  const size_t i = Cache::probe(shard, h, bytes);
  if (shard.hashes[i] == 0) {  // another thread may have filled it meanwhile
    shard.hashes[i] = h;
    shard.entries[i].word.assign(bytes);
    shard.entries[i].ids.assign(out->begin() + static_cast<std::ptrdiff_t>(start), out->end());
    ++shard.used;
  }
}

}  // namespace cuclip::tok::detail
