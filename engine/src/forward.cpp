// Both CLIP towers as a list of backend ops. Shapes: B batch, T tokens, C width, NH heads,
// HD head dim, M MLP width, P patch, S image side, N patches, D embedding dim.
#include "forward.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace cuclip {

namespace {

// Where each of B token sequences starts in the packed rows: offsets[b] .. offsets[b+1]-1.
struct Packing {
  int B = 0, max_len = 0;
  std::vector<int> offsets;  // B + 1 entries
  int rows() const { return offsets.back(); }
};

Packing uniform_packing(int B, int T) {
  Packing pk{B, T, std::vector<int>((size_t)B + 1)};
  for (int b = 0; b <= B; ++b) pk.offsets[(size_t)b] = b * T;
  return pk;
}

// One pre-LN residual block: x += attn(ln1(x)); x += mlp(ln2(x)).
Status block(Backend& be, const TowerConfig& tw, const std::string& p, const Packing& pk, bool causal) {
  const int C = tw.width, M = tw.mlp_dim, rows = pk.rows();
  const Buf x = Buf::X;
  CUCLIP_TRY(be.layernorm(rows, C, x, be.weight(p + "ln1.weight"), be.weight(p + "ln1.bias"), tw.ln_eps, Buf::Y));  // ln1 (C), (C)
  CUCLIP_TRY(be.gemm(rows, 3 * C, C, Buf::Y, be.weight(p + "attn.qkv.weight"), be.weight(p + "attn.qkv.bias"),    // (3C, C), (3C)
                     Act::None, nullptr, Buf::QKV));
  CUCLIP_TRY(be.attention(pk.B, pk.offsets.data(), pk.max_len, tw.heads, tw.head_dim, Buf::QKV, Buf::ATTN, causal));
  CUCLIP_TRY(be.gemm(rows, C, C, Buf::ATTN, be.weight(p + "attn.out.weight"), be.weight(p + "attn.out.bias"),     // (C, C), (C)
                     Act::None, &x, x));
  CUCLIP_TRY(be.layernorm(rows, C, x, be.weight(p + "ln2.weight"), be.weight(p + "ln2.bias"), tw.ln_eps, Buf::Y));  // ln2 (C), (C)
  CUCLIP_TRY(be.gemm(rows, M, C, Buf::Y, be.weight(p + "mlp.fc1.weight"), be.weight(p + "mlp.fc1.bias"),           // (M, C), (M)
                     act_of(tw.act), nullptr, Buf::H));
  CUCLIP_TRY(be.gemm(rows, C, M, Buf::H, be.weight(p + "mlp.fc2.weight"), be.weight(p + "mlp.fc2.bias"),           // (C, M), (C)
                     Act::None, &x, x));
  return Status::Ok();
}

std::string layer_prefix(const char* tower, int i) { return std::string(tower) + ".blocks." + std::to_string(i) + "."; }

}  // namespace

namespace {

// The vision tower after patch_embed has left the patch rows in Buf::Y, up to the projected
// embeddings in Buf::EMB (not normalized).
Status vision_after_patches(Backend& be, const ModelConfig& cfg, int B) {
  const VisionConfig& v = cfg.vision;
  const int C = v.width, N = v.grid() * v.grid(), T = N + 1, D = cfg.embed_dim;
  CUCLIP_TRY(be.vision_tokens(B, N, C, Buf::Y, be.weight("vision.class_embedding"),  // (C)
                              be.weight("vision.pos_embed"),                          // (T, C)
                              v.ln_pre ? be.weight("vision.ln_pre.weight") : nullptr, // (C)
                              v.ln_pre ? be.weight("vision.ln_pre.bias") : nullptr, v.ln_eps, Buf::X));
  const Packing pk = uniform_packing(B, T);
  for (int i = 0; i < v.layers; ++i) CUCLIP_TRY(block(be, v, layer_prefix("vision", i), pk, /*causal=*/false));
  std::vector<int> cls_rows(B);
  for (int b = 0; b < B; ++b) cls_rows[b] = b * T;
  CUCLIP_TRY(be.gather_rows(B, C, Buf::X, cls_rows.data(), Buf::POOL));
  CUCLIP_TRY(be.layernorm(B, C, Buf::POOL, be.weight("vision.ln_post.weight"), be.weight("vision.ln_post.bias"), v.ln_eps, Buf::POOL2));
  return be.gemm(B, D, C, Buf::POOL2, be.weight("vision.proj.weight"), nullptr, Act::None, nullptr, Buf::EMB);  // (D, C)
}

Status patch_embed_any(Backend& be, const ModelConfig& cfg, int B, const ImageInput& in) {
  const VisionConfig& v = cfg.vision;
  W conv = be.weight("vision.patch_embed.weight");  // (C, 3, P, P)
  if (in.resize) return be.patch_embed_resized(B, v.image_size, v.patch_size, v.width, *in.resize, in.lut, conv, Buf::Y);
  if (in.rgb) return be.patch_embed_u8(B, v.image_size, v.patch_size, v.width, in.rgb, in.lut, conv, Buf::Y);
  return be.patch_embed(B, v.image_size, v.patch_size, v.width, in.f32, conv, Buf::Y);
}

}  // namespace

Status encode_images(Backend& be, const ModelConfig& cfg, int B, const ImageInput& in, float* out) {
  be.set_forward_tail(nullptr, 0);
  CUCLIP_TRY(patch_embed_any(be, cfg, B, in));
  CUCLIP_TRY(vision_after_patches(be, cfg, B));
  return be.normalize_to_host(B, cfg.embed_dim, Buf::EMB, out);
}

Status classify_images(Backend& be, const ModelConfig& cfg, int B, const ImageInput& in, const ZeroShotHead& head,
                       float scale, float bias, int top_k, float* probs, int32_t* idx) {
  be.set_forward_tail(&head, top_k);
  Status s = patch_embed_any(be, cfg, B, in);
  if (s.ok()) s = vision_after_patches(be, cfg, B);
  if (s.ok()) s = be.zero_shot_to_host(B, cfg.embed_dim, Buf::EMB, head, scale, bias, top_k, probs, idx);
  be.set_forward_tail(nullptr, 0);
  return s;
}

int text_pool_index(const TextConfig& t, const int32_t* ids) {
  const int L = t.context_length;
  if (t.pool == TextPool::ArgmaxId) {
    int best = 0;  // first maximum, as torch.argmax
    for (int i = 1; i < L; ++i)
      if (ids[i] > ids[best]) best = i;
    return best;
  }
  for (int i = 0; i < L; ++i)  // first EOT; none -> 0, as argmax over an all-false mask
    if (ids[i] == t.eot_id) return i;
  return 0;
}

Status encode_token_ids(Backend& be, const ModelConfig& cfg, int B, const int32_t* ids, float* out) {
  const TextConfig& t = cfg.text;
  const int C = t.width, L = t.context_length, D = cfg.embed_dim;
  // Causal attention: the pooled row depends only on rows at or before it, so each sequence is cut
  // after its pooled token and the sequences are packed back to back (no padding to L).
  Packing pk{B, 1, std::vector<int>((size_t)B + 1, 0)};
  std::vector<int> pool(B);
  for (int b = 0; b < B; ++b) {
    pool[b] = text_pool_index(t, ids + (size_t)b * L);
    pk.offsets[(size_t)b + 1] = pk.offsets[(size_t)b] + pool[b] + 1;
    pk.max_len = std::max(pk.max_len, pool[b] + 1);
  }
  std::vector<int32_t> packed((size_t)pk.rows());
  for (int b = 0; b < B; ++b)
    std::copy(ids + (size_t)b * L, ids + (size_t)b * L + pool[b] + 1, packed.begin() + pk.offsets[(size_t)b]);
  CUCLIP_TRY(be.text_tokens(B, pk.offsets.data(), C, packed.data(), be.weight("text.token_embed"),  // (V, C)
                            be.weight("text.pos_embed"), Buf::X));                                   // (L, C)
  for (int i = 0; i < t.layers; ++i) CUCLIP_TRY(block(be, t, layer_prefix("text", i), pk, /*causal=*/true));
  std::vector<int> rows(B);
  for (int b = 0; b < B; ++b) rows[b] = pk.offsets[(size_t)b] + pool[b];
  CUCLIP_TRY(be.gather_rows(B, C, Buf::X, rows.data(), Buf::POOL));
  CUCLIP_TRY(be.layernorm(B, C, Buf::POOL, be.weight("text.ln_final.weight"), be.weight("text.ln_final.bias"), t.ln_eps, Buf::POOL2));
  CUCLIP_TRY(be.gemm(B, D, C, Buf::POOL2, be.weight("text.proj.weight"), nullptr, Act::None, nullptr, Buf::EMB));  // (D, C)
  return be.normalize_to_host(B, D, Buf::EMB, out);
}

}  // namespace cuclip
