#!/usr/bin/env python3
"""Writes a transformers CLIPModel checkpoint directory with random weights for a standard shape.

The directory is what users download from the hub (config.json, model.safetensors, vocab.json +
merges.txt, preprocessor_config.json), so the very same files feed both sides of a benchmark: the
PyTorch anchor loads it with CLIPModel.from_pretrained, and cuclip-convert turns it into the
.cuclip file cuclip benchmarks. Weights come from transformers' own initialisation (seeded).

usage: make_random_hf.py SHAPE OUT_DIR [--seed N] [--dtype float32|float16]
SHAPE: ViT-B/32, ViT-B/16, ViT-L/14, ViT-L/14@336, ViT-H/14 (or the open_clip spelling, ViT-B-32).
"""
import argparse
import gzip
import json
import sys
from pathlib import Path

import torch

OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_STD = [0.26862954, 0.26130258, 0.27577711]
SOT, EOT = "<|startoftext|>", "<|endoftext|>"

# (embed, image, patch, vision width/layers/heads, text width/layers/heads, activation): the
# original checkpoints' shapes (OpenAI's quick_gelu models; LAION's ViT-H-14 with exact GELU and a
# vision head dim of 1280 / 16 = 80). MLP width is 4x the tower width in all of them.
SHAPES = {
    "ViT-B/32": (512, 224, 32, 768, 12, 12, 512, 12, 8, "quick_gelu"),
    "ViT-B/16": (512, 224, 16, 768, 12, 12, 512, 12, 8, "quick_gelu"),
    "ViT-L/14": (768, 224, 14, 1024, 24, 16, 768, 12, 12, "quick_gelu"),
    "ViT-L/14@336": (768, 336, 14, 1024, 24, 16, 768, 12, 12, "quick_gelu"),
    "ViT-H/14": (1024, 224, 14, 1280, 32, 16, 1024, 24, 16, "gelu"),
}
ALIASES = {"ViT-B-32": "ViT-B/32", "ViT-B-16": "ViT-B/16", "ViT-L-14": "ViT-L/14", "ViT-L-14-336": "ViT-L/14@336",
           "ViT-H-14": "ViT-H/14", "B/32": "ViT-B/32", "B/16": "ViT-B/16", "L/14": "ViT-L/14",
           "L/14@336": "ViT-L/14@336", "H/14": "ViT-H/14"}


def clip_vocab_and_merges():
    """CLIP's 49408-token vocabulary rebuilt from the BPE merge list open_clip ships: 256 byte
    symbols, the same with </w>, one token per merge (the first 48894), then SOT and EOT. The merge
    list is the copy bundled in this repository (tokenizer/data/, from the open_clip_torch wheel), so
    open_clip need not be installed where the benchmark runs."""
    path = Path(__file__).resolve().parents[2] / "tokenizer" / "data" / "bpe_simple_vocab_16e6.txt.gz"
    lines = gzip.open(path, "rt", encoding="utf-8").read().split("\n")
    merges = lines[1:1 + 49408 - 512 - 2]
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) + \
        list(range(ord("\u00ae"), ord("\u00ff") + 1))
    cs, extra = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + extra)
            extra += 1
    symbols = [chr(c) for c in cs]
    vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m.split()) for m in merges] + [SOT, EOT]
    assert len(vocab) == 49408 and len(set(vocab)) == 49408
    return {t: i for i, t in enumerate(vocab)}, merges


def write_tokenizer(out, vocab, merges):
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (out / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    (out / "tokenizer_config.json").write_text(json.dumps({
        "bos_token": SOT, "eos_token": EOT, "unk_token": EOT, "pad_token": EOT, "do_lower_case": True,
        "model_max_length": 77, "tokenizer_class": "CLIPTokenizer"}, indent=2))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("shape")
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", choices=["float32", "float16"], default="float32")
    args = ap.parse_args()
    shape = ALIASES.get(args.shape, args.shape)
    if shape not in SHAPES:
        sys.exit(f"unknown shape {args.shape!r}; known: {', '.join(SHAPES)}")
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel
    D, S, P, vw, vl, vh, tw, tl, th, act = SHAPES[shape]
    config = CLIPConfig(
        text_config=dict(vocab_size=49408, max_position_embeddings=77, hidden_size=tw, intermediate_size=4 * tw,
                         num_hidden_layers=tl, num_attention_heads=th, hidden_act=act,
                         bos_token_id=49406, eos_token_id=49407, pad_token_id=49407),
        vision_config=dict(hidden_size=vw, intermediate_size=4 * vw, num_hidden_layers=vl, num_attention_heads=vh,
                           image_size=S, patch_size=P, hidden_act=act),
        projection_dim=D, logit_scale_init_value=4.6052)
    torch.manual_seed(args.seed)
    model = CLIPModel(config).eval().to(getattr(torch, args.dtype))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out_dir)
    write_tokenizer(args.out_dir, *clip_vocab_and_merges())
    CLIPImageProcessor(size={"shortest_edge": S}, crop_size={"height": S, "width": S},
                       image_mean=OPENAI_MEAN, image_std=OPENAI_STD).save_pretrained(args.out_dir)
    (args.out_dir / "cuclip_shape.json").write_text(json.dumps({"shape": shape, "seed": args.seed, "dtype": args.dtype}))
    print(f"{shape}: {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters -> {args.out_dir}")


if __name__ == "__main__":
    main()
