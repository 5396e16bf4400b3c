"""eval_cuclip.py - zero-shot accuracy of a converted .cuclip model on train.py's evaluation images,
measured through the cuclip CLI (so the number covers decoding, preprocessing, the forward pass
and the classifier exactly as a user runs them).

  python tools/shapes/eval_cuclip.py --cuclip build/cuclip --model models/shapes.cuclip \
      --eval-dir /tmp/shapes_eval [--json out.json]

Compares against `labels.tsv` (written by train.py) and, when present, train.py's own PyTorch
predictions (`predictions_pytorch.tsv`): the agreement rate says how faithfully the f16 file and
the engine reproduce the PyTorch checkpoint.
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import draw  # noqa: E402

LABELS = [f"a {c} {s}" for c, s in draw.all_combos()]
HELD_OUT = {"a purple triangle", "a orange circle", "a green square"}  # train.py HELD_OUT


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cuclip", default="build/cuclip")
    ap.add_argument("--model", default="models/shapes.cuclip")
    ap.add_argument("--eval-dir", default="/tmp/shapes_eval")
    ap.add_argument("--json", help="also write the report here")
    args = ap.parse_args()
    ev = Path(args.eval_dir)
    truth = dict(line.split("\t") for line in (ev / "labels.tsv").read_text().splitlines())
    out = subprocess.run([args.cuclip, "classify", "-m", args.model, "--images", str(ev), "--top-k", "1",
                          "--labels", ",".join(LABELS)], check=True, capture_output=True, text=True).stdout
    pred = {}
    for line in out.splitlines():
        r = json.loads(line)
        pred[Path(r["image"]).name] = r["labels"][0]["label"]
    names = sorted(truth)
    missing = [n for n in names if n not in pred]
    if missing:
        sys.exit(f"cuclip gave no answer for {len(missing)} images, e.g. {missing[:3]}")
    per_class = {l: [0, 0] for l in LABELS}
    for n in names:
        per_class[truth[n]][0] += pred[n] == truth[n]
        per_class[truth[n]][1] += 1
    right = sum(v[0] for v in per_class.values())
    held = [v for l, v in per_class.items() if l in HELD_OUT]
    seen = [v for l, v in per_class.items() if l not in HELD_OUT]
    report = {
        "overall": right / len(names), "n": len(names),
        "held_out": sum(v[0] for v in held) / sum(v[1] for v in held),
        "seen": sum(v[0] for v in seen) / sum(v[1] for v in seen),
        "per_class": {l: v[0] / v[1] for l, v in per_class.items()},
    }
    torch_preds = ev / "predictions_pytorch.tsv"
    if torch_preds.exists():
        tp = dict(line.split("\t") for line in torch_preds.read_text().splitlines())
        report["agreement_with_pytorch"] = sum(tp[n] == pred[n] for n in names) / len(names)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text)


if __name__ == "__main__":
    main()
