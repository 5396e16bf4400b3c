#!/usr/bin/env python3
"""cuclip against PyTorch, end to end, in one run on one machine.

For each shape: a transformers CLIPModel checkpoint with random weights (make_random_hf.py, cached
in --workdir), converted by cuclip-convert; then, in --rounds alternating rounds, `cuclip bench`
on the converted file and benchmarks/reference/bench_torch.py on the checkpoint directory it came
from (each anchor mode), both with the same tasks, batch sizes, time budget and the same 32 JPEG
files for the end-to-end job (load + decode + preprocess + forward, in one process). Each side's
best round is kept (the least disturbed by other load; the machine description records the load
average). A parity check compares both sides' embeddings of the same image files and texts.

Writes to OUTDIR: e2e_results.json (machine, settings, every raw report, the comparison table with
cuclip/PyTorch ratios, the issue-5 CPU goal verdict), e2e_throughput.png (throughput against batch
size), e2e_summary.md (the tables). Nothing else.

usage: run_e2e.py OUTDIR --cuclip BUILD/cuclip --convert BUILD/cuclip-convert [--device cpu|cuda]
                  [--shapes ViT-B/32] [--batch 1,8] [--tasks ...] [--iters N] [--max-seconds S]
                  [--rounds N] [--python PY] [--workdir DIR] [--anchor-timeout S]
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def sh(cmd, **kw):
    """Output of a command, or '' when it is missing or fails (machine description only)."""
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30, **kw).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_description(python):
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = sh(["awk", "/MemTotal/ {print $2 * 1024}", "/proc/meminfo"])
    d = {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpu": cpu, "cpu_count": os.cpu_count(), "memory_bytes": int(mem) if mem.isdigit() else None,
        "os": platform.platform(), "load_average_start": list(os.getloadavg()),
        "commit": sh(["git", "-C", str(REPO), "rev-parse", "HEAD"]) or None,
        "uncommitted_changes": bool(sh(["git", "-C", str(REPO), "status", "--porcelain"])),
        "gpu": sh(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"]) or None,
        "cuda": (sh(["nvcc", "--version"]) or sh(["/usr/local/cuda/bin/nvcc", "--version"])).splitlines()[-1:] or None,
        "python_anchor": sh([python, "-c", "import sys, torch, transformers; print(sys.version.split()[0], "
                                           "'torch', torch.__version__, 'transformers', transformers.__version__)"]) or None,
    }
    return d


def make_images(out, n):
    """n JPEG photos-to-be of typical web sizes (640x480, 480x640, 500x375, 1024x768), with
    structure (gradients, shapes, noise) so that decoding does real work. Deterministic."""
    import numpy as np
    from PIL import Image, ImageDraw
    out.mkdir(parents=True, exist_ok=True)
    sizes = [(640, 480), (480, 640), (500, 375), (1024, 768)]
    rng = np.random.default_rng(0)
    for i in range(n):
        p = out / f"img_{i:03d}.jpg"
        if p.exists():
            continue
        w, h = sizes[i % len(sizes)]
        y, x = np.mgrid[0:h, 0:w]
        a = np.stack([(x * (1 + i % 3) + y) % 256, (y * 2 + i * 17) % 256, (x + y * (i % 5)) % 256], -1).astype(np.float32)
        a += rng.normal(0, 12, a.shape)
        img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
        d = ImageDraw.Draw(img)
        for k in range(6):
            x0, y0 = int(rng.integers(0, w - 60)), int(rng.integers(0, h - 60))
            d.ellipse([x0, y0, x0 + int(rng.integers(20, 200)), y0 + int(rng.integers(20, 200))], fill=tuple(int(c) for c in rng.integers(0, 255, 3)))
        img.save(p, quality=90)
    return out


def run(cmd, log, timeout, env=None):
    t0 = time.time()
    with open(log, "a") as f:
        f.write(f"$ {' '.join(map(str, cmd))}\n")
        f.flush()
        try:
            r = subprocess.run(list(map(str, cmd)), stdout=subprocess.PIPE, stderr=f, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            f.write(f"timed out after {timeout} s\n")
            return None, time.time() - t0
    return r, time.time() - t0


def rates(report, is_cuclip=False):
    """{(shape, task, batch): items/s} of one report. cuclip's "image" (its C API takes host pixels)
    also fills the "image_host" rows, which PyTorch measures from host pixels uploaded per call."""
    out = {}
    for m in report.get("models", []):
        for r in m.get("results", []):
            for k, v in r.items():
                if k.endswith("_per_s"):
                    out[(m["shape"], r["task"], r["batch"])] = v
                    if is_cuclip and r["task"] == "image":
                        out[(m["shape"], "image_host", r["batch"])] = v
    return out


def best(reports, is_cuclip=False):
    """Per configuration, the best throughput over rounds."""
    b = {}
    for rep in reports:
        for k, v in rates(rep, is_cuclip).items():
            b[k] = max(b.get(k, 0), v)
    return b


def e2e_best(reports, shape):
    t = [m["e2e_files"]["total_s_median"] for rep in reports for m in rep.get("models", [])
         if m.get("shape") == shape and "total_s_median" in m.get("e2e_files", {})]
    return min(t) if t else None


def plot(path, comparison, tools):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    keys = sorted({(c["shape"], c["task"]) for c in comparison})
    if not keys:
        return
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.6), squeeze=False)
    for ax, (shape, task) in zip(axes[0], keys):
        rows = sorted((c for c in comparison if c["shape"] == shape and c["task"] == task), key=lambda c: c["batch"])
        for tool in tools:
            pts = [(c["batch"], c[tool]) for c in rows if c.get(tool)]
            if pts:
                ax.plot(*zip(*pts), marker="o", label=tool)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch")
        ax.set_ylabel("images/s" if task == "image" else "texts/s")
        ax.set_title(f"{shape} {task}", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def main():
    ap = argparse.ArgumentParser(description="cuclip vs PyTorch end to end")
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--cuclip", required=True)
    ap.add_argument("--convert", required=True)
    ap.add_argument("--python", default=sys.executable, help="interpreter with torch + transformers for the anchor")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--shapes", default="ViT-B/32")
    ap.add_argument("--batch", default=None, help="default: 1,8 on cpu, 1,8,64,256,1024 on cuda")
    ap.add_argument("--tasks", default="image,text_caption,text_full")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--max-seconds", type=float, default=None, help="per configuration (default 20 cpu, 5 cuda)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--n-images", type=int, default=32)
    ap.add_argument("--modes", default=None, help="anchor modes (default eager_fp32 on cpu; eager_f16_sdpa,compile_f16 on cuda)")
    ap.add_argument("--compile-batch", default="1,64,256", help="batches for compile_f16 (each one compiles)")
    ap.add_argument("--compile-tasks", default=None, help="tasks for compile_f16 (default: --tasks)")
    ap.add_argument("--workdir", type=Path, default=None, help="checkpoints, images and raw logs (default OUTDIR/../e2e-work)")
    ap.add_argument("--anchor-timeout", type=float, default=900)
    ap.add_argument("--no-anchor", action="store_true", help="cuclip only (no torch available)")
    a = ap.parse_args()
    gpu = a.device == "cuda"
    batch = a.batch or ("1,8,64,256,1024" if gpu else "1,8")
    max_s = a.max_seconds or (5.0 if gpu else 20.0)
    modes = (a.modes or ("eager_f16_sdpa,compile_f16" if gpu else "eager_fp32")).split(",")
    shapes = a.shapes.split(",")
    a.outdir.mkdir(parents=True, exist_ok=True)
    work = a.workdir or a.outdir.parent / "e2e-work"
    work.mkdir(parents=True, exist_ok=True)
    log = work / "run_e2e.log"
    images = make_images(work / "images", a.n_images)
    machine = machine_description(a.python)
    raw = {"cuclip": [], **{m: [] for m in modes}}
    notes, parity = [], {}

    for shape in shapes:
        tag = shape.replace("/", "-").replace("@", "-")
        hf = work / f"hf-{tag}"
        if not (hf / "model.safetensors").exists() and not a.no_anchor:
            r, _ = run([a.python, HERE / "reference" / "make_random_hf.py", shape, hf], log, 1800)
            if r is None or r.returncode != 0:
                notes.append(f"{shape}: could not create the transformers checkpoint (see {log})")
                continue
        model = work / f"{tag}-{'f16' if gpu else 'f32'}.cuclip"
        if hf.exists() and not model.exists():
            r, _ = run([a.convert, hf, "-o", model, "--dtype", "f16" if gpu else "f32"], log, 600)
            if r is None or r.returncode != 0:
                notes.append(f"{shape}: cuclip-convert failed (see {log})")
                continue
        if not model.exists():
            notes.append(f"{shape}: no model file (no anchor python to create the checkpoint); skipped")
            continue
        common = ["--batch", batch, "--tasks", a.tasks, "--iters", a.iters, "--max-seconds", max_s]
        for rnd in range(a.rounds):
            # Alternate who goes first, so that slow drift of the machine's load favours neither.
            order = ["cuclip"] + modes if rnd % 2 == 0 else modes + ["cuclip"]
            for tool in order:
                e2e = ["--image-files", images]
                if tool == "cuclip":
                    cmd = [a.cuclip, "bench", "-m", model, "--backend", a.device, *common, *e2e, "--json"]
                    if a.threads:
                        cmd += ["--threads", a.threads]
                    r, _ = run(cmd, log, a.anchor_timeout)
                else:
                    if a.no_anchor:
                        continue
                    out = work / f"torch-{tag}-{tool}-{rnd}.json"
                    b = a.compile_batch if tool == "compile_f16" else batch
                    t = (a.compile_tasks or a.tasks) if tool == "compile_f16" else a.tasks
                    if gpu and "image" in t.split(","):
                        t += ",image_host"  # PyTorch from host pixels too, as cuclip's C API takes them
                    cmd = [a.python, HERE / "reference" / "bench_torch.py", "--hf-dir", hf, "--device", a.device, "--mode", tool,
                           "--batch", b, "--tasks", t, "--iters", a.iters, "--max-seconds", max_s, *e2e, "--json", out]
                    if rnd == 0 and tool == modes[0]:
                        cmd += ["--save-embeddings", work / f"torch-{tag}-e2e.npy",
                                "--save-text-embeddings", work / f"torch-{tag}-texts.npy"]
                    if a.threads:
                        cmd += ["--threads", a.threads]
                    r, _ = run(cmd, log, a.anchor_timeout)
                    if r is not None and r.returncode == 0:
                        r.stdout = out.read_text()
                if r is None or r.returncode != 0:
                    notes.append(f"{shape} round {rnd}: {tool} failed or timed out (see {log})")
                    if r is not None and r.stdout.strip().startswith("{"):
                        raw[tool].append(json.loads(r.stdout))
                    continue
                rep = json.loads(r.stdout)
                for m in rep.get("models", []):
                    m["shape"] = shape  # cuclip bench -m labels by path
                raw[tool].append(rep)
        # Parity: do both sides compute the same embeddings of the same files?
        npy_t = work / f"torch-{tag}-e2e.npy"
        npy_c = work / f"cuclip-{tag}-e2e.npy"
        r, _ = run([a.cuclip, "embed", "-m", model, "--backend", a.device, "--images", images, "-o", npy_c], log, 600)
        if r is not None and r.returncode == 0 and npy_t.exists():
            import numpy as np
            ct, tt = np.load(npy_c), np.load(npy_t)
            cos = (ct * tt).sum(1) / (np.linalg.norm(ct, axis=1) * np.linalg.norm(tt, axis=1))
            parity[shape] = {"n": int(len(cos)), "min_cosine": float(cos.min()), "max_abs_diff": float(abs(ct - tt).max())}
        txt_t = work / f"torch-{tag}-texts.npy"
        txt_c = work / f"cuclip-{tag}-texts.npy"
        if txt_t.exists():
            r, _ = run([a.cuclip, "embed", "-m", model, "--backend", a.device, "--texts", txt_t.with_suffix(".txt"), "-o", txt_c],
                       log, 600)
            if r is not None and r.returncode == 0:
                import numpy as np
                ct, tt = np.load(txt_c), np.load(txt_t)
                cos = (ct * tt).sum(1) / (np.linalg.norm(ct, axis=1) * np.linalg.norm(tt, axis=1))
                parity[shape + " texts"] = {"n": int(len(cos)), "min_cosine": float(cos.min()),
                                            "max_abs_diff": float(abs(ct - tt).max())}

    # Comparison table: best round of each side; ratio = cuclip / anchor (> 1: cuclip faster).
    bests = {tool: best(reps, tool == "cuclip") for tool, reps in raw.items()}
    comparison = []
    for key in sorted(set().union(*[set(b) for b in bests.values()])):
        row = {"shape": key[0], "task": key[1], "batch": key[2]}
        for tool, b in bests.items():
            row[tool] = b.get(key)
        for m in modes:
            if row.get("cuclip") and row.get(m):
                row[f"ratio_vs_{m}"] = row["cuclip"] / row[m]
        comparison.append(row)
    e2e = {}
    for shape in shapes:
        c = e2e_best(raw["cuclip"], shape)
        entry = {"cuclip_s": c}
        for m in modes:
            t = e2e_best(raw[m], shape)
            entry[f"{m}_s"] = t
            if c and t:
                entry[f"speedup_vs_{m}"] = t / c
        if not gpu and c and entry.get("eager_fp32_s"):
            entry["issue5_cpu_goal_met"] = c <= entry["eager_fp32_s"]
        e2e[shape] = entry
    machine["load_average_end"] = list(os.getloadavg())
    result = {"machine": machine, "device": a.device,
              "settings": {"shapes": shapes, "batch": batch, "tasks": a.tasks, "iters": a.iters, "max_seconds": max_s,
                           "rounds": a.rounds, "modes": modes, "n_images": a.n_images,
                           "selection": "best of rounds per configuration (the machine may be shared)"},
              "comparison": comparison, "e2e_files": e2e, "parity": parity, "notes": notes, "raw": raw}
    (a.outdir / "e2e_results.json").write_text(json.dumps(result, indent=1) + "\n")
    try:
        plot(a.outdir / "e2e_throughput.png", comparison, ["cuclip", *modes])
    except Exception as e:  # matplotlib missing: the numbers still stand
        notes.append(f"plot failed: {e}")

    lines = [f"# cuclip vs PyTorch, {a.device}, {machine['date_utc']}", "",
             f"Machine: {machine['cpu']} ({machine['cpu_count']} cores), GPU: {machine['gpu'] or 'none'}; "
             f"load average {machine['load_average_start'][0]:.1f} at start, {machine['load_average_end'][0]:.1f} at end; "
             f"commit {(machine['commit'] or '?')[:12]}{' + local changes' if machine['uncommitted_changes'] else ''}.", "",
             "| shape | task | batch | cuclip /s | " + " | ".join(f"{m} /s | ratio" for m in modes) + " |",
             "|---|---|---:|---:|" + "---:|---:|" * len(modes)]
    for c in comparison:
        cells = [c["shape"], c["task"], str(c["batch"]), f"{c['cuclip']:.2f}" if c.get("cuclip") else "-"]
        for m in modes:
            cells += [f"{c[m]:.2f}" if c.get(m) else "-", f"{c[f'ratio_vs_{m}']:.2f}x" if c.get(f"ratio_vs_{m}") else "-"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"End to end, {a.n_images} JPEG files (load + decode + preprocess + forward, one process, best of rounds):", ""]
    for shape, e in e2e.items():
        s = f"- {shape}: cuclip {e['cuclip_s']:.2f} s" if e.get("cuclip_s") else f"- {shape}: cuclip -"
        for m in modes:
            if e.get(f"{m}_s"):
                s += f", PyTorch {m} {e[f'{m}_s']:.2f} s"
                if e.get(f"speedup_vs_{m}"):
                    s += f" (cuclip {e[f'speedup_vs_{m}']:.2f}x)"
        if "issue5_cpu_goal_met" in e:
            s += f"; issue-5 CPU goal {'met' if e['issue5_cpu_goal_met'] else 'NOT met'}"
        lines.append(s)
    for shape, p in parity.items():
        what = "texts" if shape.endswith(" texts") else "images"
        lines.append(f"- parity {shape.removesuffix(' texts')} {what}: min cosine {p['min_cosine']:.6f}, "
                     f"max abs diff {p['max_abs_diff']:.2e} over {p['n']} {what}")
    lines += [f"- note: {n}" for n in notes]
    (a.outdir / "e2e_summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if comparison else 1


if __name__ == "__main__":
    sys.exit(main())
