"""train.py - trains cuclip's bundled "shapes" model: a small standard CLIP (open_clip) learned
contrastively on procedurally drawn shapes (draw.py), saved as a real open_clip checkpoint.

  python tools/shapes/train.py --out /work/shapes_ckpt          # ~25 min on 2 CPU cores
  cuclip-convert /work/shapes_ckpt -o models/shapes.cuclip --dtype f16 --templates none

What it does:
  1. draws a training set (a few tens of thousands of images, draw.py's wide domain) and a fresh
     evaluation set (draw.py's evaluation domain, another seed; written to --eval-dir as files so
     the converted model can be checked on exactly the same images with the cuclip CLI);
  2. every image goes through open_clip's own inference transform of the model (squash resize to
     64x64, bicubic), so training pixels are the pixels any user's image becomes;
  3. trains with the standard symmetric CLIP loss and a learnable logit_scale on captions in
     varied phrasings; the held-out color-shape combinations never appear in any training image
     or caption;
  4. evaluates zero-shot top-1 over the 18 labels "a {color} {shape}" (overall, per class and on
     the held-out combinations) and writes open_clip_config.json + open_clip_model.safetensors,
     then reloads that directory through open_clip ("local-dir:") and evaluates it again.
"""
import argparse
import json
import math
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import draw  # noqa: E402

MODEL_NAME = "cuclip-shapes"
MODEL_CFG = {
    "embed_dim": 96,
    "quick_gelu": False,
    "vision_cfg": {"image_size": 64, "patch_size": 8, "width": 128, "head_width": 32, "layers": 4},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 96, "heads": 3, "layers": 4},
}
PREPROCESS_CFG = {  # OpenAI's mean/std; squash so a shape near the edge of a wide image is never cropped
    "mean": [0.48145466, 0.4578275, 0.40821073],
    "std": [0.26862954, 0.26130258, 0.27577711],
    "interpolation": "bicubic",
    "resize_mode": "squash",
}
# Never drawn or named in training; every color and every shape still appears in two/four others.
HELD_OUT = [("purple", "triangle"), ("orange", "circle"), ("green", "square")]
LABELS = [f"a {c} {s}" for c, s in draw.all_combos()]  # the 18 zero-shot labels, exactly


# ------------------------------------------------------------------------------------- captions

def article(color):
    return "an" if color == "orange" else "a"


FULL_TEMPLATES = [
    "a {c} {s}", "a {c} {s}", "a {c} {s}", "a {c} {s}.", "{A} {c} {s}", "{c} {s}", "the {c} {s}",
    "a photo of {A} {c} {s}", "a picture of {A} {c} {s}", "a drawing of {A} {c} {s}",
    "an image of {A} {c} {s}", "a solid {c} {s}", "one {c} {s}", "a simple {c} {s}",
    "{c} {s} on a {b} background", "{A} {c} {s} on a {b} background", "a {c} {s} on {b}",
    "a photo of {A} {c} {s} on a {b} background", "a {b} background with {A} {c} {s}",
    "{A} {c} {s} in front of a {b} background", "a {s} that is {c}", "a {c} colored {s}",
]
PARTIAL_TEMPLATES = ["a {c} shape", "something {c}", "a {s}", "a photo of a {s}", "a {s} on a {b} background"]
BG_WORDS = {"white": ["white"], "light gray": ["light gray", "light grey"],
            "dark gray": ["dark gray", "dark grey"], "black": ["black"]}


def make_caption(rng, color, shape, bg, partial_prob):
    templates = PARTIAL_TEMPLATES if rng.random() < partial_prob else FULL_TEMPLATES
    t = templates[int(rng.integers(len(templates)))]
    words = BG_WORDS[bg]
    a = article(color) if rng.random() < 0.5 else "a"  # labels say "a orange ..."; accept both
    if t.startswith("a {c}") and color == "orange" and rng.random() < 0.5:
        t = "an" + t[1:]
    return t.format(c=color, s=shape, b=words[int(rng.integers(len(words)))], A=a)


# ----------------------------------------------------------------------------------------- data

_RESIZE = None  # the model's inference transform up to (not including) ToTensor/Normalize


def _init_worker(resize):
    global _RESIZE
    _RESIZE = resize
    torch.set_num_threads(1)


def _draw_chunk(args):
    seed, n, combos, wide = args
    rng = np.random.default_rng(seed)
    pix = np.empty((n, 64, 64, 3), np.uint8)
    meta, difficulty = [], np.empty((n, 2), np.float32)
    for i in range(n):
        info = {}
        img, color, shape, bg, _, _ = draw.random_sample(rng, combos, wide=wide, info=info)
        pix[i] = np.asarray(_RESIZE(img))
        meta.append((color, shape, bg))
        difficulty[i] = (info["frac"], max(info["size"]) / min(info["size"]))
    return pix, meta, difficulty


def draw_dataset(seed, n, combos, wide, resize, workers):
    chunk = 1000
    seeds = np.random.SeedSequence(seed).spawn((n + chunk - 1) // chunk)
    jobs = [(s, min(chunk, n - i * chunk), combos, wide) for i, s in enumerate(seeds)]
    with mp.get_context("fork").Pool(workers, initializer=_init_worker, initargs=(resize,)) as pool:
        parts = pool.map(_draw_chunk, jobs)
    return (np.concatenate([p[0] for p in parts]), [m for p in parts for m in p[1]],
            np.concatenate([p[2] for p in parts]))


def write_eval_set(seed, per_class, out_dir):
    """Evaluation images as files (PNG/JPEG as drawn) + labels.tsv: the same files are later
    classified by the cuclip CLI."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(per_class):
        for color, shape in draw.all_combos():
            bg = draw.BACKGROUNDS[int(rng.integers(len(draw.BACKGROUNDS)))]
            data, ext = draw.encode(rng, draw.draw_shape(rng, color, shape, bg))
            name = f"{color}_{shape}_{k:03d}.{ext}"
            (out / name).write_bytes(data)
            rows.append((name, f"a {color} {shape}"))
    (out / "labels.tsv").write_text("".join(f"{n}\t{l}\n" for n, l in rows))
    return rows


# ---------------------------------------------------------------------------------------- model

def build_model():
    import open_clip
    with tempfile.TemporaryDirectory() as tmp:  # open_clip builds custom architectures from a json file
        cfg_path = Path(tmp) / f"{MODEL_NAME}.json"
        cfg_path.write_text(json.dumps(MODEL_CFG))
        open_clip.add_model_config(cfg_path)
    model, _, preprocess = open_clip.create_model_and_transforms(
        MODEL_NAME, image_mean=PREPROCESS_CFG["mean"], image_std=PREPROCESS_CFG["std"],
        image_interpolation=PREPROCESS_CFG["interpolation"], image_resize_mode=PREPROCESS_CFG["resize_mode"])
    tokenizer = open_clip.get_tokenizer(MODEL_NAME)
    assert type(tokenizer) is open_clip.tokenizer.SimpleTokenizer
    return model, preprocess, tokenizer


def encode_text_short(model, ids):
    """model.encode_text on ids cut after the longest caption's EOT. With the causal mask the EOT
    position never sees the padding after it, so the result equals the full-length forward
    (checked at start-up) at a fraction of the cost."""
    n = int(ids.argmax(dim=-1).max()) + 1
    x = model.token_embedding(ids[:, :n]) + model.positional_embedding[:n]
    x = model.transformer(x, attn_mask=model.attn_mask[:n, :n])
    x = model.ln_final(x)
    x = x[torch.arange(x.shape[0]), ids[:, :n].argmax(dim=-1)]
    return x @ model.text_projection


def to_model_input(pix_u8):
    x = torch.from_numpy(pix_u8).permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(PREPROCESS_CFG["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(PREPROCESS_CFG["std"]).view(1, 3, 1, 1)
    return (x - mean) / std


@torch.no_grad()
def zero_shot(model, tokenizer, images, truth):
    """images: float [N,3,64,64] model input; truth: label indices. Returns the predicted indices."""
    model.eval()
    dev = next(model.parameters()).device
    text = F.normalize(model.encode_text(tokenizer(LABELS).to(dev)), dim=-1)
    preds = []
    for i in range(0, len(images), 256):
        img = F.normalize(model.encode_image(images[i:i + 256].to(dev)), dim=-1)
        preds.append((img @ text.T).argmax(dim=-1).cpu())
    return torch.cat(preds).numpy()


def report(preds, truth):
    preds, truth = np.asarray(preds), np.asarray(truth)
    held = [LABELS.index(f"a {c} {s}") for c, s in HELD_OUT]
    per_class = {LABELS[k]: float((preds[truth == k] == k).mean()) for k in range(len(LABELS))}
    mask = np.isin(truth, held)
    return {"overall": float((preds == truth).mean()), "held_out": float((preds[mask] == truth[mask]).mean()),
            "seen": float((preds[~mask] == truth[~mask]).mean()), "per_class": per_class, "n": int(len(truth))}


def param_groups(model, weight_decay):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim < 2 or "embedding" in name or "logit_scale" in name else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def export(model, out_dir, dtype="float32"):
    from safetensors.torch import save_file
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dt = getattr(torch, dtype)
    state = {k: v.detach().to(dt).cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, out / "open_clip_model.safetensors")
    (out / "open_clip_config.json").write_text(json.dumps({"model_cfg": MODEL_CFG, "preprocess_cfg": PREPROCESS_CFG}, indent=2))


# ----------------------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="/work/shapes_ckpt", help="open_clip checkpoint directory to write")
    ap.add_argument("--eval-dir", default="/tmp/shapes_eval", help="where the evaluation images are written")
    ap.add_argument("--cache-dir", default="/tmp", help="where the drawn training set is cached")
    ap.add_argument("--train-images", type=int, default=60000)
    ap.add_argument("--steps", type=int, default=4000, help="length of the cosine schedule")
    ap.add_argument("--stop-after", type=int, default=0, help="stop after this many steps (0: --steps)")
    ap.add_argument("--batch", type=int, default=60, help="images per step, in groups of the 15 training combinations")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--curriculum-start", type=int, default=400, help="steps on large shapes in near-square images only")
    ap.add_argument("--curriculum", type=int, default=2500, help="step by which sizes/aspects have widened to the full domain")
    ap.add_argument("--curriculum-free", type=float, default=0.1, help="share of unrestricted images while widening")
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--partial-captions", type=float, default=0.3, help="share of color-only/shape-only captions")
    ap.add_argument("--eval-per-class", type=int, default=100)
    # One thread: on a shared, oversubscribed machine two OpenMP threads wait on each other at every
    # barrier and run ~3x slower than one (measured).
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--resume", action="store_true", help="continue from OUT/train_state.pt")
    ap.add_argument("--device", default="cpu", help="torch device (cuda trains the same recipe in minutes)")
    ap.add_argument("--workers", type=int, default=2, help="processes drawing the training set")
    ap.add_argument("--patch-size", type=int, default=0, help="override the vision patch size")
    ap.add_argument("--vision-width", type=int, default=0, help="override the vision width")
    ap.add_argument("--vision-head-width", type=int, default=0, help="override the vision head width")
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--init-from", default=None,
                    help="start from the weights of an exported checkpoint directory (open_clip_model.safetensors), "
                         "e.g. to finish a run that --max-minutes cut short with a decaying learning rate")
    ap.add_argument("--max-minutes", type=float, default=0, help="stop training (and export) after this much time (0: no limit)")
    ap.add_argument("--export-dtype", choices=["float32", "float16"], default="float32",
                    help="dtype of the exported safetensors (float16 halves the file; cuclip-convert --dtype f16 stores that anyway)")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--eval-seed", type=int, default=777)
    args = ap.parse_args()
    vision = MODEL_CFG["vision_cfg"]
    vision.update(width=args.vision_width or vision["width"], patch_size=args.patch_size or vision["patch_size"],
                  head_width=args.vision_head_width or vision["head_width"])
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t_start = time.time()
    log = lambda *a: print(f"[{time.time() - t_start:7.1f}s]", *a, flush=True)  # noqa: E731

    model, preprocess, tokenizer = build_model()
    if args.init_from:
        from safetensors.torch import load_file
        state = load_file(str(Path(args.init_from) / "open_clip_model.safetensors"))
        model.load_state_dict({k: v.float() for k, v in state.items()})
    model.to(args.device)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params / 1e6:.2f}M parameters; preprocess: {preprocess}")
    resize = type(preprocess)(preprocess.transforms[:-2])  # Resize(squash, bicubic) + RGB conversion

    train_combos = [c for c in draw.all_combos() if c not in HELD_OUT]
    assert {c for c, _ in train_combos} == set(draw.COLORS) and {s for _, s in train_combos} == set(draw.SHAPES)
    Path(args.cache_dir).mkdir(parents=True, exist_ok=True)
    cache = Path(args.cache_dir) / f"shapes_train_v2_{args.seed}_{args.train_images}.npz"
    if cache.exists():  # the drawing is deterministic: reuse an earlier run's
        z = np.load(cache, allow_pickle=False)
        pix, meta, difficulty = z["pix"], [tuple(m) for m in z["meta"].tolist()], z["difficulty"]
    else:
        pix, meta, difficulty = draw_dataset(args.seed, args.train_images, train_combos, True, resize, workers=args.workers)
        np.savez(cache, pix=pix, meta=np.array(meta), difficulty=difficulty)
    assert not any((c, s) in HELD_OUT for c, s, _ in meta)
    log(f"drew {len(meta)} training images")

    rows = write_eval_set(args.eval_seed, args.eval_per_class, args.eval_dir)
    from PIL import Image
    eval_imgs = [Image.open(Path(args.eval_dir) / n).convert("RGB") for n, _ in rows]
    eval_truth = np.array([LABELS.index(l) for _, l in rows])
    eval_x = torch.stack([preprocess(im) for im in eval_imgs])
    fast = to_model_input(np.stack([np.asarray(resize(im)) for im in eval_imgs[:32]]))
    assert torch.allclose(fast, eval_x[:32], atol=1e-6), "training pixels differ from open_clip's preprocessing"
    log(f"wrote {len(rows)} evaluation images to {args.eval_dir}")

    # The truncated text forward must equal open_clip's own encode_text.
    probe = tokenizer(["a red circle", "a photo of a green triangle on a dark gray background"]).to(args.device)
    with torch.no_grad():
        assert torch.allclose(encode_text_short(model, probe), model.encode_text(probe), atol=1e-5)

    token_cache = {}
    def tokens(caps):
        missing = [c for c in caps if c not in token_cache]
        if missing:
            for c, ids in zip(missing, tokenizer(missing)):
                token_cache[c] = ids
        return torch.stack([token_cache[c] for c in caps])

    opt = torch.optim.AdamW(param_groups(model, args.weight_decay), lr=args.lr, betas=(0.9, 0.98), eps=1e-6)
    sched = lambda step: min(1.0, (step + 1) / args.warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, step / args.steps)))  # noqa: E731
    rng = np.random.default_rng(args.seed + 1)
    ckpt_path = Path(args.out) / "train_state.pt"
    Path(args.out).mkdir(parents=True, exist_ok=True)
    t_train = time.time()
    # Indices of the training images of each combination, for drawing groups of distinct ones.
    by_combo = {c: np.array([i for i, m in enumerate(meta) if m[:2] == c]) for c in train_combos}
    n_group = len(train_combos)

    # Curriculum. Large shapes in near-square images teach the shape concept in ~150 steps, but with
    # all sizes and aspect ratios from the start the loss sits at the color-only plateau for
    # thousands of steps (a large circle's edge looks locally like a square's, and the text tower
    # cannot separate "circle" from "square" before the image tower does). So training starts on
    # sizes >= 60% in images of aspect <= 1.15, and the range widens linearly to the whole domain
    # between --curriculum-start and --curriculum.
    def pick(combo, step):
        pool = by_combo[combo]
        p = min(1.0, max(0.0, (step - args.curriculum_start) / max(1, args.curriculum - args.curriculum_start)))
        if p >= 1.0 or (step >= args.curriculum_start and rng.random() < args.curriculum_free):
            return pool[rng.integers(len(pool))]
        min_frac, max_aspect = 0.6 - 0.35 * p, 1.15 + 1.85 * p
        while True:
            i = pool[rng.integers(len(pool))]
            if difficulty[i, 0] >= min_frac and difficulty[i, 1] <= max_aspect:
                return i
    groups = max(1, args.batch // n_group)
    last = min(args.steps, args.stop_after or args.steps)
    first = 0
    if args.resume and ckpt_path.exists():  # continue an interrupted run exactly where it stopped
        state = torch.load(ckpt_path, weights_only=False, map_location=args.device)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        rng.bit_generator.state = state["rng"]
        first = state["step"]
        log(f"resumed from {ckpt_path} at step {first}")
    for step in range(first, last):
        if args.max_minutes and time.time() - t_train > 60 * args.max_minutes:
            log(f"--max-minutes {args.max_minutes:g} reached at step {step}: stopping")
            last = step
            break
        model.train()
        # Each group holds every training combination exactly once, and the contrastive loss is
        # taken within groups: no caption in a group also describes another image of the group, so
        # the CLIP loss never pushes an image away from a caption that is true of it.
        idx = np.array([[pick(c, step) for c in train_combos] for _ in range(groups)])
        for g in idx:
            rng.shuffle(g)
        idx = idx.reshape(-1)
        x = pix[idx]
        # Mirrored or transposed, a shape is the same shape (and the caption stays true).
        flip = rng.random(len(idx)) < 0.5
        x[flip] = x[flip, :, ::-1]
        flip = rng.random(len(idx)) < 0.5
        x[flip] = x[flip, ::-1]
        flip = rng.random(len(idx)) < 0.5
        x[flip] = x[flip].transpose(0, 2, 1, 3)
        caps = [make_caption(rng, *meta[i], args.partial_captions) for i in idx]
        for g in opt.param_groups:
            g["lr"] = args.lr * sched(step)
        img = F.normalize(model.encode_image(to_model_input(x).to(args.device)), dim=-1)
        txt = F.normalize(encode_text_short(model, tokens(caps).to(args.device)), dim=-1)
        img, txt = img.view(groups, n_group, -1), txt.view(groups, n_group, -1)
        logits = model.logit_scale.exp() * img @ txt.transpose(1, 2)  # [groups, images, texts]
        target = torch.arange(n_group, device=args.device).repeat(groups)
        loss = (F.cross_entropy(logits.reshape(-1, n_group), target) +
                F.cross_entropy(logits.transpose(1, 2).reshape(-1, n_group), target)) / 2
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        if step % 50 == 0 or step == last - 1:
            log(f"step {step} loss {loss.item():.4f} scale {model.logit_scale.exp().item():.1f} lr {opt.param_groups[0]['lr']:.2e}")
        if (step + 1) % args.eval_every == 0 or step == last - 1:
            r = report(zero_shot(model, tokenizer, eval_x, eval_truth), eval_truth)
            log(f"eval step {step + 1}: overall {r['overall']:.4f} seen {r['seen']:.4f} held-out {r['held_out']:.4f}")
            torch.save({"step": step + 1, "model": model.state_dict(), "opt": opt.state_dict(),
                        "rng": rng.bit_generator.state}, ckpt_path)
    train_min = (time.time() - t_train) / 60

    export(model, args.out, args.export_dtype)
    import open_clip
    reloaded, _, pre2 = open_clip.create_model_and_transforms(f"local-dir:{args.out}")
    tok2 = open_clip.get_tokenizer(f"local-dir:{args.out}")
    x2 = torch.stack([pre2(im) for im in eval_imgs])
    assert torch.equal(x2, eval_x), "the saved preprocess_cfg does not reproduce the training preprocessing"
    preds = zero_shot(reloaded, tok2, x2, eval_truth)
    r = report(preds, eval_truth)
    r.update({"train_minutes": round(train_min, 1), "total_minutes": round((time.time() - t_start) / 60, 1),
              "params": n_params, "steps": args.steps, "init_from": args.init_from, "lr": args.lr, "device": args.device, "export_dtype": args.export_dtype, "stopped_after": last, "batch": args.batch, "train_images": args.train_images,
              "held_out_combos": [f"a {c} {s}" for c, s in HELD_OUT]})
    (Path(args.out) / "eval_pytorch.json").write_text(json.dumps(r, indent=2))
    with open(Path(args.eval_dir) / "predictions_pytorch.tsv", "w") as f:
        f.writelines(f"{n}\t{LABELS[p]}\n" for (n, _), p in zip(rows, preds))
    log(json.dumps(r, indent=2))


if __name__ == "__main__":
    main()
