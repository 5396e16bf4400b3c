#!/usr/bin/env python3
"""PyTorch's attention at the attention lab's shapes: the anchor for "attention at CLIP shapes >= the
best PyTorch SDPA backend" (issue 8). Prints rows in the kernel labs' format, so gpu_check.sh appends
them to kernels.txt next to cuclip's attention versions:

    op | ver | shape | ms | GB/s | TFLOP/s | % of roof (bound)

Versions: sdpa-flash, sdpa-efficient, sdpa-cudnn, sdpa-math (torch.nn.attention.sdpa_kernel), each
f16 [B, NH, T, HD] with is_causal for text; backends that refuse a shape are listed as skipped.
Packed captions (real lengths 6..16, the lab's caption_length) are padded to the batch's longest,
as PyTorch needs: that padding is part of what cuclip's packed kernel saves, so the FLOP and byte
counts are those of the real tokens, the same as the lab's (4 * HD * NH * visible pairs; q, k, v
and out read or written once). Timing: CUDA events, warm-up, median of --reps, inputs rotated over
enough copies to exceed the L2. "% of roof" is left out ("-"): the roofs are measured by the CUDA
labs in the same run (kernels.txt).

usage: bench_sdpa.py [--quick] [--batch 1,64,1024] [--reps 20] [--device cuda]
"""
import argparse
import sys

import torch
import torch.nn.functional as F

SHAPES = [  # name, tokens, heads, head dim, causal, captions: as benchmarks/kernels/attention_lab.cu
    ("B/32 vision", 50, 12, 64, False, False), ("B/16 vision", 197, 12, 64, False, False),
    ("L/14 vision", 257, 16, 64, False, False), ("L/14@336 vision", 577, 16, 64, False, False),
    ("H/14 vision", 257, 16, 80, False, False), ("B text77", 77, 8, 64, True, False),
    ("B caption", 77, 8, 64, True, True), ("L text77", 77, 12, 64, True, False),
    ("L caption", 77, 12, 64, True, True), ("H caption", 77, 16, 64, True, True)]
QUICK = {"B/32 vision", "L/14 vision", "H/14 vision", "B caption"}


def caption_length(i):  # the lab's: 6..16 tokens, ~11 on average, reproducible
    return 6 + ((i * 2654435761) % 2**32 >> 16) % 11


def backends():
    from torch.nn.attention import SDPBackend
    out = [("sdpa-flash", SDPBackend.FLASH_ATTENTION), ("sdpa-efficient", SDPBackend.EFFICIENT_ATTENTION)]
    if hasattr(SDPBackend, "CUDNN_ATTENTION"):
        out.append(("sdpa-cudnn", SDPBackend.CUDNN_ATTENTION))
    out.append(("sdpa-math", SDPBackend.MATH))
    return out


def time_ms(fn, reps, device):
    for _ in range(3):
        fn(0)
    if device != "cuda":
        import time
        ts = []
        for r in range(reps):
            t0 = time.perf_counter()
            fn(r)
            ts.append((time.perf_counter() - t0) * 1e3)
        return sorted(ts)[len(ts) // 2]
    torch.cuda.synchronize()
    ts = []
    for r in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn(r)
        b.record()
        b.synchronize()
        ts.append(a.elapsed_time(b))
    return sorted(ts)[len(ts) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--batch", default=None, help="default 1,64,1024 (--quick) or 1,8,64,256,1024")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--max-elements", type=float, default=2e9, help="skip shapes whose q/k/v exceed this")
    a = ap.parse_args()
    batches = [int(b) for b in (a.batch or ("1,64,1024" if a.quick else "1,8,64,256,1024")).split(",")]
    dtype = torch.float16 if a.device == "cuda" else torch.float32
    from torch.nn.attention import sdpa_kernel
    name = torch.cuda.get_device_name() if a.device == "cuda" else "CPU"
    print(f"# PyTorch SDPA anchor (torch {torch.__version__}, {dtype}) on {name}: padded to the batch's longest sequence")
    print("op         | ver  | shape                                        |         ms |      GB/s |  TFLOP/s | % of roof (bound)")
    for sname, T, NH, HD, causal, captions in SHAPES:
        if a.quick and sname not in QUICK:
            continue
        for B in batches:
            lens = [caption_length(b) if captions else T for b in range(B)]
            L = max(lens)
            total = sum(lens)
            pairs = sum(l * (l + 1) / 2 if causal else l * l for l in lens)
            flops, nbytes = 4.0 * HD * NH * pairs, 2.0 * total * 4.0 * NH * HD
            shape = f"{sname} b{B}: {total} tok, {NH}x{HD}{' causal' if causal else ''}"
            elems = 3 * B * NH * L * HD
            if elems > a.max_elements:
                print(f"attention  | sdpa | {shape:<44} | skipped: {elems:.0f} elements > --max-elements")
                continue
            copies = max(1, min(8, int(200e6 // (elems * 2)) + 1))  # rotate past the L2 (60 MB on an H200)
            qkv = [torch.randn(3, B, NH, L, HD, device=a.device, dtype=dtype) for _ in range(copies)]
            for ver, backend in backends():
                def run(r, backend=backend):
                    q, k, v = qkv[r % copies]
                    with sdpa_kernel(backend):
                        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
                try:
                    ms = time_ms(run, a.reps, a.device)
                except Exception as e:  # a backend that does not take this shape or dtype
                    msg = str(e).splitlines()[0][:60] if str(e) else type(e).__name__
                    print(f"attention  | {ver} | {shape:<44} | skipped: {msg}")
                    continue
                print(f"attention  | {ver} | {shape:<44} | {ms:10.4f} | {nbytes / ms / 1e6:9.1f} | {flops / ms / 1e9:8.2f} | -")
            del qkv
            if a.device == "cuda":
                torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
