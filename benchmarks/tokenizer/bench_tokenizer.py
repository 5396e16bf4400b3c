#!/usr/bin/env python3
"""Side-by-side tokenizer speed: open_clip 3.3.0's SimpleTokenizer (Python + ftfy) and HF's fast
CLIPTokenizer (Rust `tokenizers`), single-threaded, on the inputs bench_tokenizer (C++) uses; then
the ratios to cuclip's numbers.

  /work/venv-ref/bin/python benchmarks/tokenizer/bench_tokenizer.py --cpp build/tokenizer/bench_tokenizer

Measurement: one warm-up pass (fills the caches of every implementation), then the median of
`--reps` passes, in process CPU time (the C++ side uses thread CPU time) so that other load on a
shared machine does not distort the ratios. HF is timed two ways: encode_batch on one Rayon thread (Rust throughput, no
per-text Python overhead) and one __call__ per text (what a Python user pays).
"""
import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ["RAYON_NUM_THREADS"] = "1"  # must precede importing tokenizers
os.environ["TOKENIZERS_PARALLELISM"] = "false"

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))


def load(path):
    corpora = {"golden": [], "captions": [], "long": []}
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            corpora["golden"].append(row["text"])
            if row["cat"] == "caption":
                corpora["captions"].append(row["text"])
            if row["cat"] == "long":
                corpora["long"].append(row["text"])
    return corpora


def median_time(fn, reps):
    fn()
    times = []
    for _ in range(reps):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cpp", help="path of the bench_tokenizer binary to run for the ratios")
    ap.add_argument("--corpus", default=os.path.join(ROOT, "tests", "data", "tokenizer", "golden.jsonl.gz"))
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()

    from open_clip.tokenizer import SimpleTokenizer
    from gen_tokenizer import make_hf_tokenizer

    corpora = load(args.corpus)
    oc = SimpleTokenizer()
    with tempfile.TemporaryDirectory() as tmp:
        hf = make_hf_tokenizer(tmp)
    rust = hf.backend_tokenizer

    py = {}
    for name, texts in corpora.items():
        tokens = sum(len(oc.encode(t)) for t in texts)
        t_oc = median_time(lambda: [oc.encode(t) for t in texts], args.reps)
        hf_tokens = sum(len(e.ids) for e in rust.encode_batch(texts, add_special_tokens=False))
        t_rust = median_time(lambda: rust.encode_batch(texts, add_special_tokens=False), args.reps)
        t_hf_call = median_time(lambda: [hf(t, add_special_tokens=False) for t in texts], args.reps)
        py[name] = {"oc_tok_s": tokens / t_oc, "rust_tok_s": hf_tokens / t_rust, "hf_call_tok_s": hf_tokens / t_hf_call}
        print(f"{name:9s} open_clip {tokens / t_oc:12.0f} tokens/s | HF Rust encode_batch(1 thread) "
              f"{hf_tokens / t_rust:12.0f} tokens/s | HF __call__ per text {hf_tokens / t_hf_call:12.0f} tokens/s")

    if not args.cpp:
        return
    out = subprocess.run([args.cpp, args.corpus], check=True, capture_output=True, text=True).stdout
    print(out, end="")
    cpp = json.loads(next(line for line in out.splitlines() if line.startswith("JSON "))[5:])
    print("\nratios (cuclip tokens/s over the reference's, same inputs, one core):")
    for name in corpora:
        c_oc = cpp["openclip"][name]["tokens"] / cpp["openclip"][name]["encode_s"]
        c_hf = cpp["hf_fast"][name]["tokens"] / cpp["hf_fast"][name]["encode_s"]
        print(f"{name:9s} openclip mode vs open_clip: {c_oc / py[name]['oc_tok_s']:7.1f}x | "
              f"hf_fast mode vs HF Rust: {c_hf / py[name]['rust_tok_s']:5.2f}x | "
              f"hf_fast mode vs HF __call__: {c_hf / py[name]['hf_call_tok_s']:6.1f}x")


if __name__ == "__main__":
    main()
