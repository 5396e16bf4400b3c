#!/usr/bin/env python3
"""PyTorch anchor for `cuclip bench`: the same tasks, batch sizes, timing rules and JSON keys, run
with transformers' CLIPModel loaded from the very checkpoint directory cuclip's file was converted
from, so that cuclip / PyTorch ratios compare like with like.

Modes:
  eager_fp32       CPU (or GPU) fp32, eager, all cores (the issue-5 CPU anchor)
  eager_f16_sdpa   GPU f16, eager, attn_implementation="sdpa"
  compile_f16      GPU f16, SDPA, torch.compile(mode="max-autotune") of the embedding functions

Tasks (as in cuclip bench): "image" = uint8 RGB pixels at the model resolution, already on the
device -> normalise -> get_image_features -> L2 normalise; "image_host" = the same from pixels in
host memory, uploaded by each call (what cuclip's "image" starts from: its C API takes host pixels); "text_caption" / "text_full" = tokenise (fast CLIP tokenizer,
padded to the longest in the batch, truncated at 77) -> get_text_features -> L2 normalise. Each
configuration: warm-up, then calls until --iters or --max-seconds; throughput = batch / median
latency; configurations predicted to exceed the budget are skipped and listed.
--image-files adds the end-to-end job: load the model + PIL decode + CLIPImageProcessor + forward
of every file, three times, after `import torch` (whose time is reported apart).

usage: bench_torch.py --hf-dir DIR [--shape NAME] [--device cpu|cuda] [--mode ...] [--batch 1,8]
                      [--tasks image,text_caption,text_full] [--iters N] [--max-seconds S]
                      [--image-files DIR] [--save-embeddings OUT.npy] [--save-text-embeddings OUT.npy]
                      [--json OUT.json]
"""
import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

T_START = time.perf_counter()
import numpy as np  # noqa: E402
import torch  # noqa: E402

T_IMPORT = time.perf_counter() - T_START
MIN_ITERS = 3  # as cuclip bench: a configuration starts only if warm-up + 3 calls fit the budget

# The same caption generator as cuclip bench (engine/cli/cmd_bench.cpp), so token counts match.
SUBJECTS = ["a dog", "two cats", "an old man", "a red bicycle", "a plate of pasta", "a small boat", "a group of children",
            "a wooden chair", "a black and white photo of a horse", "a city bus"]
ACTIONS = ["sitting on", "next to", "in front of", "lying under", "parked near", "running across"]
PLACES = ["a sunny beach", "the kitchen table", "a snowy mountain road", "an empty parking lot", "a crowded market at night",
          "the window", "a green field with flowers"]


def captions(n):
    return [f"{SUBJECTS[i % 10]} {ACTIONS[(i // 10) % 6]} {PLACES[(i // 60 + i) % 7]}" for i in range(n)]


def long_texts(n):
    body = "".join(f" {c}," for c in captions(12))
    return [f"variant {i}:{body}" for i in range(n)]


def pixel_images(n, S):
    """The same structured test pattern as cuclip bench's pixel_images()."""
    y, x = np.mgrid[0:S, 0:S]
    out = np.empty((n, S, S, 3), np.uint8)
    for i in range(n):
        for c in range(3):
            out[i, :, :, c] = (x * (c + 1) + y * (3 - c) + 37 * i + ((x ^ y) & 15) * 5) & 255
    return out


def features(out):
    """The projected embedding: transformers 5.x returns BaseModelOutputWithPooling (pooler_output),
    4.x the tensor itself; the GPU machine's image may carry either."""
    return out.pooler_output if hasattr(out, "pooler_output") else out


def peak_rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def load_model(hf_dir, mode, device):
    from transformers import CLIPModel
    dtype = torch.float32 if mode == "eager_fp32" else torch.float16
    model = CLIPModel.from_pretrained(hf_dir, dtype=dtype, attn_implementation="sdpa").eval().to(device)
    return model, dtype


class Embedder:
    """The two embedding functions, eager or compiled, each ending in L2 normalisation as cuclip's."""

    def __init__(self, model, dtype, device, mode, image_size):
        self.device, self.dtype = device, dtype
        mean = torch.tensor([0.48145466, 0.4578275, 0.40821073], device=device).view(1, 3, 1, 1) * 255
        std = torch.tensor([0.26862954, 0.26130258, 0.27577711], device=device).view(1, 3, 1, 1) * 255

        def image(pixels_u8):  # [B, S, S, 3] uint8 on the device
            x = (pixels_u8.permute(0, 3, 1, 2).float() - mean) / std
            f = features(model.get_image_features(pixel_values=x.to(dtype)))
            return f / f.norm(dim=-1, keepdim=True)

        def text(ids, mask):
            f = features(model.get_text_features(input_ids=ids, attention_mask=mask))
            return f / f.norm(dim=-1, keepdim=True)

        if mode == "compile_f16":
            image = torch.compile(image, mode="max-autotune")
            text = torch.compile(text, mode="max-autotune")
        self.image, self.text = image, text


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def time_calls(call, device, warmup, iters, max_seconds):
    t0 = time.perf_counter()
    for _ in range(warmup):
        call()
    sync(device)
    warm = time.perf_counter() - t0
    last = warm / max(warmup, 1)
    ms, start = [], time.perf_counter()
    while len(ms) < iters and (not ms or time.perf_counter() - start + last <= max_seconds):
        a = time.perf_counter()
        call()
        sync(device)
        last = time.perf_counter() - a
        ms.append(last * 1e3)
    ms.sort()
    return ms, warm


def pct(ms, q):  # nearest rank, as cuclip bench
    k = int(np.ceil(q * len(ms)))
    return ms[min(len(ms) - 1, max(k - 1, 0))]


def bench(args, model, dtype, emb, tokenizer, image_size):
    results, skipped = [], []
    caps, longs = captions(64), long_texts(8)
    cap_tokens = int(round(np.mean([len(tokenizer(c).input_ids) for c in caps])))
    warmup = args.warmup if args.warmup >= 0 else (1 if args.device == "cpu" else 3)
    if args.mode == "compile_f16":
        warmup = max(warmup, 2)  # the first call compiles; the second runs whatever autotuning chose
    for task in args.tasks:
        sec_per_item = 0.0
        for batch in args.batch:
            predicted = sec_per_item * batch
            if predicted * (warmup + MIN_ITERS) > args.max_seconds:
                skipped.append({"task": task, "batch": batch, "reason": f"predicted {predicted:.2f} s per call x ({warmup} warm-up + "
                                f"{MIN_ITERS}) > --max-seconds {args.max_seconds:g}"})
                continue
            if args.device == "cuda":
                torch.cuda.reset_peak_memory_stats()
            if task in ("image", "image_host"):
                pix = torch.from_numpy(pixel_images(min(batch, 64), image_size))
                pix = pix[torch.arange(batch) % pix.shape[0]]
                if task == "image":
                    pix = pix.to(args.device)

                def call():
                    with torch.inference_mode():
                        return emb.image(pix.to(args.device))  # a no-op for "image"
            else:
                pool = longs if task == "text_full" else caps
                texts = [pool[i % len(pool)] for i in range(batch)]

                def call():
                    t = tokenizer(texts, padding=True, truncation=True, max_length=77, return_tensors="pt")
                    with torch.inference_mode():
                        return emb.text(t.input_ids.to(args.device), t.attention_mask.to(args.device))
            try:
                ms, warm = time_calls(call, args.device, warmup, args.iters, args.max_seconds)
            except Exception as e:  # a compile or OOM failure is a result to report, not a crash
                results.append({"task": task, "batch": batch, "error": f"{type(e).__name__}: {e}"[:500]})
                break
            p50 = pct(ms, 0.5) / 1e3
            sec_per_item = p50 / batch
            r = {"task": task, "batch": batch, "iters": len(ms), "warmup": warmup, "warmup_s": warm,
                 ("images_per_s" if task.startswith("image") else "texts_per_s"): batch / p50,
                 "latency_ms_p50": pct(ms, 0.5), "latency_ms_p99": pct(ms, 0.99), "latency_ms_min": ms[0],
                 "tokens": (image_size // model.config.vision_config.patch_size) ** 2 + 1 if task.startswith("image")
                 else (77 if task == "text_full" else cap_tokens),
                 "host_peak_rss_bytes": peak_rss()}
            if args.device == "cuda":
                r["device_mem_peak_bytes"] = torch.cuda.max_memory_allocated()
            results.append(r)
    return results, skipped, cap_tokens


def e2e_files(args, save_to=None):
    """Load + decode + preprocess + forward of every file, three times, each with a fresh model."""
    from PIL import Image
    from transformers import CLIPImageProcessor
    src = Path(args.image_files)
    files = sorted(p for p in src.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif"}) \
        if src.is_dir() else [Path(l.strip()) for l in src.read_text().splitlines() if l.strip()]
    reps = []
    for rep in range(3):
        t0 = time.perf_counter()
        model, dtype = load_model(args.hf_dir, args.mode if args.mode != "compile_f16" else "eager_f16_sdpa", args.device)
        proc = CLIPImageProcessor.from_pretrained(args.hf_dir)
        t1 = time.perf_counter()
        outs = []
        with torch.inference_mode():
            for s in range(0, len(files), 32):
                images = [Image.open(f).convert("RGB") for f in files[s:s + 32]]
                px = proc(images=images, return_tensors="pt").pixel_values.to(args.device, dtype)
                f = features(model.get_image_features(pixel_values=px))
                outs.append((f / f.norm(dim=-1, keepdim=True)).float().cpu())
        sync(args.device)
        t2 = time.perf_counter()
        reps.append({"load_s": t1 - t0, "encode_s": t2 - t1, "total_s": t2 - t0})
        if save_to and rep == 0:
            np.save(save_to, torch.cat(outs).numpy())
        del model
    totals = sorted(r["total_s"] for r in reps)
    return {"n_images": len(files), "source": str(src), "repetitions": reps, "total_s_median": totals[1],
            "images_per_s": len(files) / totals[1], "import_torch_s": T_IMPORT}


def main():
    ap = argparse.ArgumentParser(description="PyTorch anchor for cuclip bench")
    ap.add_argument("--hf-dir", required=True)
    ap.add_argument("--shape", default=None, help="label for the JSON (default: from cuclip_shape.json)")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--mode", choices=["eager_fp32", "eager_f16_sdpa", "compile_f16"], default=None)
    ap.add_argument("--batch", default="1,8,64,256,1024")
    ap.add_argument("--tasks", default="image,text_caption,text_full")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=-1)
    ap.add_argument("--max-seconds", type=float, default=10)
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0 = all cores)")
    ap.add_argument("--image-files", default=None)
    ap.add_argument("--save-embeddings", default=None, help="write the end-to-end image embeddings (.npy)")
    ap.add_argument("--save-text-embeddings", default=None,
                    help="write the embeddings of the benchmark's texts to this .npy, the texts to the same name .txt")
    ap.add_argument("--json", default=None, help="write the report here (default: stdout)")
    args = ap.parse_args()
    args.batch = sorted({int(b) for b in args.batch.split(",")})
    args.tasks = args.tasks.split(",")
    args.mode = args.mode or ("eager_fp32" if args.device == "cpu" else "eager_f16_sdpa")
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("bench_torch.py: --device cuda but torch sees no GPU")
    torch.set_num_threads(args.threads or os.cpu_count())
    shape = args.shape
    meta = Path(args.hf_dir) / "cuclip_shape.json"
    if shape is None:
        shape = json.loads(meta.read_text())["shape"] if meta.exists() else Path(args.hf_dir).name

    start = time.perf_counter()
    t0 = time.perf_counter()
    model, dtype = load_model(args.hf_dir, args.mode, args.device)
    load_s = time.perf_counter() - t0
    from transformers import CLIPTokenizerFast
    tokenizer = CLIPTokenizerFast.from_pretrained(args.hf_dir)
    image_size = model.config.vision_config.image_size
    emb = Embedder(model, dtype, args.device, args.mode, image_size)
    results, skipped, cap_tokens = bench(args, model, dtype, emb, tokenizer, image_size)
    m = {"shape": shape, "model": args.hf_dir, "random_weights": meta.exists(), "load_s": load_s,
         "params": sum(p.numel() for p in model.parameters()) - 1, "caption_tokens": cap_tokens,
         "results": results, "skipped": skipped}
    if args.save_text_embeddings:
        texts = captions(64) + long_texts(8)
        t = tokenizer(texts, padding=True, truncation=True, max_length=77, return_tensors="pt")
        with torch.inference_mode():
            f = features(model.get_text_features(input_ids=t.input_ids.to(args.device),
                                        attention_mask=t.attention_mask.to(args.device)))
        np.save(args.save_text_embeddings, (f / f.norm(dim=-1, keepdim=True)).float().cpu().numpy())
        Path(args.save_text_embeddings).with_suffix(".txt").write_text("\n".join(texts) + "\n")
    del model, emb
    if args.image_files:
        m["e2e_files"] = e2e_files(args, args.save_embeddings)
    report = {"tool": "pytorch", "version": f"torch {torch.__version__}", "mode": args.mode, "backend": args.device,
              "dtype": "f32" if args.mode == "eager_fp32" else "f16", "threads": torch.get_num_threads(),
              "settings": {"batches": args.batch, "tasks": args.tasks, "iters": args.iters, "warmup": args.warmup,
                           "max_seconds": args.max_seconds, "min_iters": MIN_ITERS},
              "models": [m], "host_peak_rss_bytes": peak_rss(), "wall_s": time.perf_counter() - start,
              "import_torch_s": T_IMPORT}
    if args.device == "cuda":
        report["gpu"] = torch.cuda.get_device_name()
    text = json.dumps(report, indent=2)
    if args.json:
        Path(args.json).write_text(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
