#!/usr/bin/env python3
"""Decode + preprocess speed: cuclip_image (bench_image) vs Pillow + torchvision (open_clip's
transform) on the same JPEGs, one core each. Generates the inputs in a temporary directory:
typical 500x375 photos (q90 4:2:0) and one 4000x3000 photo (upscaled + noise, q90).
Usage: /work/venv-ref/bin/python benchmarks/image/run_bench.py BUILD_DIR [--seconds T] [--rounds R]
Both sides are pinned to core 0, alternated for R rounds of T seconds; rates are per CPU-second of
the process (robust to other jobs on a shared machine) and the best of each side counts.
"""
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import skimage.data
import torch
from PIL import Image
import open_clip.transform as oct


def make_inputs(d):
    rng = np.random.default_rng(0)
    files = []
    for name in ("astronaut", "coffee", "chelsea"):
        p = os.path.join(d, f"{name}_500x375.jpg")
        Image.fromarray(getattr(skimage.data, name)()).resize((500, 375), Image.LANCZOS).save(p, quality=90)
        files.append(p)
    big = np.array(Image.fromarray(skimage.data.coffee()).resize((4000, 3000), Image.BICUBIC)).astype(np.int16)
    big = np.clip(big + rng.integers(-12, 13, big.shape), 0, 255).astype(np.uint8)  # photo-like detail
    p = os.path.join(d, "coffee_4000x3000.jpg")
    Image.fromarray(big).save(p, quality=90)
    files.append(p)
    return files


def pillow_rate(path, transform, seconds):
    """Images per CPU-second (process time: robust to other jobs on a shared machine)."""
    transform(Image.open(path))
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while True:
        transform(Image.open(path))
        n += 1
        if time.perf_counter() - t0 >= seconds and n >= 3:
            return n / (time.process_time() - c0)


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    seconds = float(sys.argv[sys.argv.index("--seconds") + 1]) if "--seconds" in sys.argv else 1.0
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 3
    exe = next(p for p in (os.path.join(build, "engine", "image", "bench_image"), os.path.join(build, "image", "bench_image"))
               if os.path.exists(p))
    torch.set_num_threads(1)
    transform = oct.image_transform(224, is_train=False)
    os.sched_setaffinity(0, {0})
    with tempfile.TemporaryDirectory() as d:
        files = make_inputs(d)
        print(f"{'image':<24} {'cuclip img/s':>13} {'Pillow+tv img/s':>16} {'ratio':>7}")
        for f in files:
            # The machine may be shared: alternate the two, several rounds, keep each one's best.
            ours, theirs = 0.0, 0.0
            for _ in range(rounds):
                out = subprocess.run(["taskset", "-c", "0", exe, "--threads", "1", "--seconds", str(seconds), f],
                                     check=True, capture_output=True, text=True).stdout
                ours = max(ours, float(re.search(r"cpu\s+([\d.]+) img/s", out).group(1)))
                theirs = max(theirs, pillow_rate(f, transform, seconds))
            print(f"{os.path.basename(f):<24} {ours:>13.1f} {theirs:>16.1f} {ours / theirs:>6.2f}x")


if __name__ == "__main__":
    main()
