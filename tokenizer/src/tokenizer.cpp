// Tokenizer: clean -> split -> byte-level BPE, plus the padded/truncated layout the text tower takes
// and the long-input rule that bounds the work for encode_padded.
#include "cuclip/tokenizer.hpp"

#include <algorithm>
#include <atomic>
#include <limits>
#include <system_error>
#include <thread>

#include "bpe.hpp"
#include "clean.hpp"
#include "pretokenize.hpp"
#include "unicode.hpp"

namespace cuclip::tok {

using detail::U32String;

namespace {

// encode() refuses texts above this size (a caption is < 1 KB; this only bounds memory).
constexpr size_t kMaxEncodeBytes = 256u << 20;
// Long-input rule (encode_padded): the first prefix tried, per context token, and the longest a
// prefix may run on past its budget while looking for whitespace to cut at.
constexpr size_t kPrefixBytesPerToken = 16;  // English averages ~4.5 bytes per token
constexpr size_t kMinPrefixBytes = 1024;
constexpr size_t kMaxCutSearchBytes = 64 * 1024;

}  // namespace

struct Tokenizer::Impl {
  TokenizerSpec spec;
  detail::BpeModel bpe;
  std::vector<detail::SpecialString> specials;  // SOT then EOT, as vocab strings

  // Tokenizes decoded text and appends at most max_tokens content ids.
  // prefix_last_segment_has_lt: see detail::FtfyOptions::last_segment_has_lt.
  void encode_text(const U32String& text, size_t max_tokens, bool prefix_last_segment_has_lt,
                   std::vector<int32_t>* ids) const;
  void split_and_bpe(std::u32string_view text, detail::SplitFlavor flavor, size_t max_tokens,
                     std::vector<int32_t>* ids) const;
  Status encode_prefix_rule(std::string_view utf8, size_t need, std::vector<int32_t>* ids) const;
};

void Tokenizer::Impl::split_and_bpe(std::u32string_view text, detail::SplitFlavor flavor, size_t max_tokens,
                                    std::vector<int32_t>* ids) const {
  size_t pos = 0;
  detail::Piece piece;
  std::string bytes;
  while (ids->size() < max_tokens && detail::next_piece(text, flavor, specials, &pos, &piece)) {
    if (piece.special_id >= 0) {
      ids->push_back(piece.special_id);
      continue;
    }
    bytes.clear();
    for (size_t i = piece.begin; i < piece.end; ++i) detail::append_utf8(text[i], &bytes);
    bpe.encode_word(bytes, ids);
  }
  if (ids->size() > max_tokens) ids->resize(max_tokens);
}

void Tokenizer::Impl::encode_text(const U32String& text, size_t max_tokens, bool prefix_last_segment_has_lt,
                                  std::vector<int32_t>* ids) const {
  U32String cleaned;
  if (spec.clean == CleanMode::OpenClip) {
    detail::FtfyOptions options;
    options.last_segment_has_lt = prefix_last_segment_has_lt;
    detail::openclip_clean(text, options, &cleaned);
    split_and_bpe(cleaned, detail::SplitFlavor::OpenClip, max_tokens, ids);
    return;
  }
  // HF: added (special) tokens are cut out of the raw text first; each stretch between them is
  // normalized and split on its own.
  size_t start = 0, i = 0;
  auto flush = [&](size_t end) {
    if (end > start) {
      detail::hf_normalize(std::u32string_view(text).substr(start, end - start), &cleaned);
      split_and_bpe(cleaned, detail::SplitFlavor::HfFast, max_tokens, ids);
    }
  };
  while (i < text.size() && ids->size() < max_tokens) {
    const detail::SpecialString* hit = nullptr;
    for (const auto& s : specials)
      if (text[i] == s.text[0] && text.compare(i, s.text.size(), s.text) == 0 &&
          (!hit || s.text.size() > hit->text.size()))
        hit = &s;
    if (!hit) { ++i; continue; }
    flush(i);
    if (ids->size() < max_tokens) ids->push_back(hit->id);
    i += hit->text.size();
    start = i;
  }
  if (ids->size() < max_tokens) flush(text.size());
}

// Long-input rule: only the first `need` content ids matter, so tokenize a prefix of the text that
// ends at whitespace; every cleaning step, the split and BPE are local across an ASCII space, tab or
// newline (see docs/tokenizer.md), so the prefix's ids are the text's first ids whenever the prefix
// yields at least `need` of them. Otherwise retry with a 4x longer prefix.
Status Tokenizer::Impl::encode_prefix_rule(std::string_view utf8, size_t need, std::vector<int32_t>* ids) const {
  size_t budget = std::max(kMinPrefixBytes, kPrefixBytesPerToken * std::max<size_t>(need, 1));
  U32String text;
  if (budget >= utf8.size()) {  // the common case: decode (and validate) once
    CUCLIP_TRY(detail::decode_utf8(utf8, &text));
    encode_text(text, need, false, ids);
    return Status::Ok();
  }
  CUCLIP_TRY(detail::validate_utf8(utf8));
  for (;;) {
    ids->clear();
    if (budget >= utf8.size()) {
      detail::decode_utf8(utf8, &text);
      encode_text(text, need, false, ids);
      return Status::Ok();
    }
    size_t cut = budget, end_search = std::min(utf8.size(), budget + kMaxCutSearchBytes);
    while (cut < end_search && utf8[cut] != ' ' && utf8[cut] != '\t' && utf8[cut] != '\n') ++cut;
    if (cut == end_search) {  // one enormous whitespace-free run: cut it at a character boundary
      while (cut < utf8.size() && (static_cast<unsigned char>(utf8[cut]) & 0xC0) == 0x80) ++cut;
    }
    if (cut >= utf8.size()) {
      detail::decode_utf8(utf8, &text);
      encode_text(text, need, false, ids);
      return Status::Ok();
    }
    size_t prefix_len = cut;
    bool rest_of_line_has_lt = false;
    if (utf8[cut] == '\n') {
      prefix_len = cut + 1;  // a whole ftfy segment: nothing after it can affect it
    } else if (spec.clean == CleanMode::OpenClip) {
      // ftfy switches HTML unescaping off for a segment holding '<' anywhere, including after the cut.
      size_t nl = utf8.find('\n', cut);
      rest_of_line_has_lt = utf8.substr(cut, nl == std::string_view::npos ? std::string_view::npos : nl - cut)
                                .find('<') != std::string_view::npos;
    }
    detail::decode_utf8(utf8.substr(0, prefix_len), &text);
    encode_text(text, need, rest_of_line_has_lt, ids);
    if (ids->size() >= need) return Status::Ok();
    budget *= 4;
  }
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

const TokenizerSpec& Tokenizer::spec() const { return impl_->spec; }

namespace {

// The library never lets an exception escape; the only ones our code can meet are allocation
// failures (std::bad_alloc, std::length_error).
template <typename F>
Status guarded(const char* what, F&& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    return Err(CUCLIP_ERR_OUT_OF_MEMORY, std::string(what) + ": " + e.what());
  }
}

}  // namespace

Status Tokenizer::create(const TokenizerSpec& spec, std::unique_ptr<Tokenizer>* out) {
  return guarded("Tokenizer::create", [&] { return create_impl(spec, out); });
}

Status Tokenizer::create_impl(const TokenizerSpec& spec, std::unique_ptr<Tokenizer>* out) {
  if (!out) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "Tokenizer::create: out is null");
  const size_t n = spec.vocab.size();
  if (n == 0 || n > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
    return Err(CUCLIP_ERR_INVALID_MODEL, "tokenizer vocab size " + std::to_string(n) + " is out of range");
  auto check_id = [&](int32_t id, const char* what) -> Status {
    if (id < 0 || static_cast<size_t>(id) >= n)
      return Err(CUCLIP_ERR_INVALID_MODEL, std::string("tokenizer ") + what + " " + std::to_string(id) +
                                               " is outside the vocab (size " + std::to_string(n) + ")");
    return Status::Ok();
  };
  CUCLIP_TRY(check_id(spec.sot_id, "sot_id"));
  CUCLIP_TRY(check_id(spec.eot_id, "eot_id"));
  CUCLIP_TRY(check_id(spec.pad_id, "pad_id"));
  if (spec.sot_id == spec.eot_id) return Err(CUCLIP_ERR_INVALID_MODEL, "tokenizer sot_id equals eot_id");
  if (spec.context_length < 1)
    return Err(CUCLIP_ERR_INVALID_MODEL, "tokenizer context_length " + std::to_string(spec.context_length) + " < 1");
  if (spec.clean != CleanMode::OpenClip && spec.clean != CleanMode::HfFast)
    return Err(CUCLIP_ERR_INVALID_ARGUMENT, "tokenizer clean mode " + std::to_string(static_cast<int>(spec.clean)) +
                                                " is unknown");
  auto impl = std::make_unique<Impl>();
  impl->spec = spec;
  CUCLIP_TRY(impl->bpe.build(spec.vocab, spec.merges));
  for (int32_t id : {spec.sot_id, spec.eot_id}) {
    detail::SpecialString s;
    Status st = detail::decode_utf8(spec.vocab[id], &s.text);
    if (!st.ok() || s.text.empty())
      return Err(CUCLIP_ERR_INVALID_MODEL, "tokenizer special token " + std::to_string(id) + " is empty or not UTF-8");
    s.id = id;
    impl->specials.push_back(std::move(s));
  }
  out->reset(new Tokenizer(std::move(impl)));
  return Status::Ok();
}

Status Tokenizer::encode(std::string_view utf8, std::vector<int32_t>* ids) const {
  if (!ids) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "Tokenizer::encode: ids is null");
  ids->clear();
  Status s = guarded("Tokenizer::encode", [&] { return encode_impl(utf8, ids); });
  if (!s.ok()) ids->clear();
  return s;
}

Status Tokenizer::encode_impl(std::string_view utf8, std::vector<int32_t>* ids) const {
  if (utf8.size() > kMaxEncodeBytes)
    return Err(CUCLIP_ERR_LIMIT_EXCEEDED, "text of " + std::to_string(utf8.size()) + " bytes is over the " +
                                              std::to_string(kMaxEncodeBytes) + "-byte limit of Tokenizer::encode");
  U32String text;
  CUCLIP_TRY(detail::decode_utf8(utf8, &text));
  impl_->encode_text(text, std::numeric_limits<size_t>::max(), false, ids);
  return Status::Ok();
}

Status Tokenizer::encode_padded(std::string_view utf8, int context_length, int32_t* out) const {
  if (!out) return Err(CUCLIP_ERR_INVALID_ARGUMENT, "Tokenizer::encode_padded: out is null");
  const TokenizerSpec& s = impl_->spec;
  const size_t T = context_length > 0 ? static_cast<size_t>(context_length) : static_cast<size_t>(s.context_length);
  std::fill(out, out + T, s.pad_id);
  Status st = guarded("Tokenizer::encode_padded", [&] { return encode_padded_impl(utf8, T, out); });
  if (!st.ok()) std::fill(out, out + T, s.pad_id);
  return st;
}

Status Tokenizer::encode_padded_impl(std::string_view utf8, size_t T, int32_t* out) const {
  const TokenizerSpec& s = impl_->spec;
  std::vector<int32_t> ids;
  const size_t need = T >= 2 ? T - 2 : 0;
  if (need > 0) CUCLIP_TRY(impl_->encode_prefix_rule(utf8, need, &ids));
  else CUCLIP_TRY(detail::validate_utf8(utf8));
  // open_clip: [SOT] + ids + [EOT], cut to T with EOT forced into the last slot.
  size_t k = 0;
  out[k++] = s.sot_id;
  for (size_t i = 0; i < ids.size() && k < T; ++i) out[k++] = ids[i];
  if (k < T) out[k++] = s.eot_id;
  else out[T - 1] = s.eot_id;
  return Status::Ok();
}

std::string Tokenizer::clean(std::string_view utf8) const {
  try {
    U32String text, cleaned;
    if (!detail::decode_utf8(utf8, &text).ok()) return std::string();
    if (impl_->spec.clean == CleanMode::OpenClip) detail::openclip_clean(text, detail::FtfyOptions(), &cleaned);
    else detail::hf_normalize(text, &cleaned);
    return detail::to_utf8(cleaned);
  } catch (const std::exception&) {
    return std::string();
  }
}

void encode_batch(const Tokenizer& tokenizer, const std::vector<std::string_view>& texts, int context_length,
                  int32_t* out, Status* statuses, int n_threads) {
  const TokenizerSpec& s = tokenizer.spec();
  const size_t T = context_length > 0 ? static_cast<size_t>(context_length) : static_cast<size_t>(s.context_length);
  if (!out || !statuses) return;
  size_t workers = n_threads > 0 ? static_cast<size_t>(n_threads) : std::max(1u, std::thread::hardware_concurrency());
  workers = std::min(workers, std::max<size_t>(texts.size(), 1));
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < texts.size();) {
      statuses[i] = tokenizer.encode_padded(texts[i], static_cast<int>(T), out + i * T);
      if (!statuses[i].ok()) std::fill(out + i * T, out + (i + 1) * T, s.pad_id);
    }
  };
  if (workers <= 1) {
    work();
    return;
  }
  std::vector<std::thread> threads;
  threads.reserve(workers - 1);
  try {
    for (size_t t = 0; t + 1 < workers; ++t) threads.emplace_back(work);
  } catch (const std::system_error&) {
    // Fewer threads than asked for: the ones that started (and this one) share the work.
  }
  work();
  for (auto& th : threads) th.join();
}

}  // namespace cuclip::tok
