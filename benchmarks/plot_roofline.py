#!/usr/bin/env python3
"""Roofline chart of kernel-lab output: achieved TFLOP/s against arithmetic intensity (FLOP/byte)
for every measured line, one colour per (op, version), with the roofs the labs measured in the
same run (the "# roofs measured now:" header lines: copy bandwidth, f16 GEMM peak; on the CPU the
memcpy bandwidth of layernorm_cpu_lab and the FMA peak of benchmarks/cpu/bench_gemm.cpp, whose
lines are read too).

usage: plot_roofline.py LAB_OUTPUT.txt [...] -o roofline.png
"""
import argparse
import re
import sys


def parse(paths):
    points, bw, peak = {}, [], []
    for path in paths:
        for line in open(path, encoding="utf-8", errors="replace"):
            if line.startswith("# roofs"):
                m = re.search(r"copy ([\d.]+) GB/s", line)
                if m:
                    bw.append(float(m.group(1)))
                m = re.search(r"GEMM ([\d.]+) TFLOP/s", line)
                if m:
                    peak.append(float(m.group(1)))
                continue
            m = re.search(r"measured FMA peak ([\d.]+) GFLOP/s", line)
            if m:  # benchmarks/cpu/bench_gemm.cpp header
                peak.append(float(m.group(1)) / 1e3)
                continue
            cells = [c.strip() for c in line.split("|")]
            g = re.fullmatch(r"(\d+)x(\d+)x(\d+)", cells[0])
            if g and len(cells) >= 3:  # bench_gemm.cpp: M x N x K | own ms GFLOP/s %peak | oblas ms GFLOP/s %peak
                M, N, K = map(int, g.groups())
                ai = 2.0 * M * N * K / (4.0 * (M * K + N * K + M * N))
                for label, cell in (("cpu gemm own", cells[1]), ("cpu gemm openblas", cells[2])):
                    f = cell.split()
                    if len(f) >= 2 and float(f[1]) > 0:
                        points.setdefault(label, []).append((ai, float(f[1]) / 1e3))
                continue
            if len(cells) < 7 or cells[0] in ("op", "") or line.startswith("#"):
                continue
            try:
                gbps, tflops = float(cells[4]), float(cells[5])
            except ValueError:
                continue  # a "skipped" line
            if gbps > 0 and tflops > 0:
                points.setdefault(f"{cells[0]} {cells[1]}", []).append((tflops * 1e3 / gbps, tflops))
    return points, (max(bw) if bw else None), (max(peak) if peak else None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args()
    points, bw, peak = parse(a.inputs)
    if not points:
        sys.exit("plot_roofline.py: no measured lines in the input")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for name, pts in sorted(points.items()):
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=12, label=name)
    lo = min(p[0] for pts in points.values() for p in pts) / 2
    hi = max(p[0] for pts in points.values() for p in pts) * 2
    if bw:
        xs = [lo * (hi / lo) ** (i / 50) for i in range(51)]
        ys = [x * bw / 1e3 for x in xs]
        if peak:
            ys = [min(y, peak) for y in ys]
        ax.plot(xs, ys, "k-", lw=1, label=f"roof: {bw:.0f} GB/s" + (f", {peak:.3g} TFLOP/s" if peak else ""))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP / byte)")
    ax.set_ylabel("TFLOP/s")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(a.output, dpi=80)


if __name__ == "__main__":
    main()
