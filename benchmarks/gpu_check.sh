#!/usr/bin/env bash
# benchmarks/gpu_check.sh OUTDIR — the whole GPU check of cuclip in one run, for the few minutes a
# GPU machine is lent: Release build for sm_90 with the CUDA backend, the `gpu` test label,
# compute-sanitizer memcheck + racecheck on a tiny model's forward, the kernel labs (+ roofline
# chart) and the end-to-end benchmark against the PyTorch anchors (+ throughput chart).
#
# Writes at most 8 files to OUTDIR (each well under 16 MB): summary.md, logs.txt, kernels.txt,
# roofline.png, e2e_results.json, e2e_throughput.png, e2e_summary.md, bench_shapes.json (every
# standard shape, cuclip alone, if time is left); and prints the summary table last. Every step is time-boxed against one deadline (default 470 s after start, so the whole run
# ends within 8 minutes); a step that fails or runs out of time is recorded and the rest go on.
# Safe to re-run: the build directory and the work directory (checkpoints, converted models, a
# venv) are reused, OUTDIR's files are replaced.
#
# Environment (all optional):
#   GPU_CHECK_DRY_RUN=1      no GPU: CPU-only build, no sanitizer, CPU labs, a tiny CPU end-to-end
#                            run — exercises the plumbing on a CPU machine
#   GPU_CHECK_BUILD_DIR=DIR  build directory (default: <repo>/build-gpu-check)
#   GPU_CHECK_SKIP_BUILD=1   use GPU_CHECK_BUILD_DIR as it is (no configure/build)
#   GPU_CHECK_CUCLIP=PATH    the cuclip CLI (default: BUILD/cuclip)
#   GPU_CHECK_PYTHON=PY      interpreter with torch + transformers for the anchors (default: the
#                            first of /work/venv-ref/bin/python, BUILD/gpu-check-work/venv, python3 that
#                            has them; else a venv is created from reference/requirements.txt if a
#                            package index is reachable; else the anchors are skipped with a note)
#   GPU_CHECK_DEADLINE_S=N   total time box in seconds (default 470)
#   GPU_CHECK_COMMIT=SHA     the commit to name in the summary where the tree has no .git
#   GPU_CHECK_NO_SHAPES=1    skip step 6 (every standard shape, cuclip alone)
set -uo pipefail

if [[ $# -ne 1 || $1 == -h || $1 == --help ]]; then
  sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
  [[ $# -eq 1 ]] && exit 0 || exit 2
fi

OUT=$1
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DRY=${GPU_CHECK_DRY_RUN:-0}
BUILD=${GPU_CHECK_BUILD_DIR:-$REPO/build-gpu-check}
WORK=$BUILD/gpu-check-work
START=$(date +%s)
DEADLINE=$((START + ${GPU_CHECK_DEADLINE_S:-470}))
JOBS=$(nproc 2>/dev/null || echo 4)
export PATH=$PATH:${CUDA_HOME:-/usr/local/cuda}/bin
SANITIZER=$(command -v compute-sanitizer 2>/dev/null || echo "${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer")

mkdir -p "$OUT" "$WORK"
OUT=$(cd "$OUT" && pwd)
rm -f "$OUT"/{summary.md,logs.txt,kernels.txt,roofline.png,e2e_results.json,e2e_throughput.png,e2e_summary.md,bench_shapes.json}
LOGS=$OUT/logs.txt
STEP_NAMES=() STEP_STATUS=() STEP_SECONDS=() STEP_NOTES=()

# record NAME STATUS SECONDS NOTE
record() { STEP_NAMES+=("$1"); STEP_STATUS+=("$2"); STEP_SECONDS+=("$3"); STEP_NOTES+=("$4"); }

# step NAME BUDGET_S NOTE CMD...: runs CMD with the smaller of its budget and the time left, its
# output (first 40 and last 300 lines) appended to logs.txt.
step() {
  local name=$1 budget=$2 note=$3
  shift 3
  local left=$((DEADLINE - $(date +%s) - 15))
  if ((left < 10)); then
    record "$name" skipped 0 "no time left before the deadline"
    return 1
  fi
  ((budget > left)) && budget=$left
  local t0 tmp rc status
  t0=$(date +%s)
  tmp=$(mktemp)
  timeout --kill-after=10 "$budget" "$@" >"$tmp" 2>&1
  rc=$?
  {
    echo "=== $name (rc $rc, budget ${budget}s): $*"
    if (($(wc -l <"$tmp") > 340)); then
      head -n 40 "$tmp"
      echo "... [$(($(wc -l <"$tmp") - 340)) lines cut] ..."
      tail -n 300 "$tmp"
    else
      cat "$tmp"
    fi
    echo
  } >>"$LOGS"
  rm -f "$tmp"
  case $rc in
    0) status=ok ;;
    124 | 137) status=timeout ;;
    *) status="FAIL($rc)" ;;
  esac
  record "$name" "$status" $(($(date +%s) - t0)) "$note"
  return $rc
}

# --- machine ------------------------------------------------------------------------------------
{
  echo "# cuclip GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "- commit: ${GPU_CHECK_COMMIT:-$(git -C "$REPO" rev-parse HEAD 2>/dev/null || echo unknown)}$([[ -n $(git -C "$REPO" status --porcelain 2>/dev/null) ]] && echo ' + local changes')"
  echo "- GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -n 1 || true)"
  echo "- CUDA: $(nvcc --version 2>/dev/null | tail -n 1)"
  echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') ($JOBS cores)"
  [[ $DRY == 1 ]] && echo "- DRY RUN (GPU_CHECK_DRY_RUN=1): CPU-only plumbing check, no GPU numbers"
} >"$OUT/summary.md"

# --- 1. build -----------------------------------------------------------------------------------
if [[ ${GPU_CHECK_SKIP_BUILD:-0} == 1 ]]; then
  record build skipped 0 "GPU_CHECK_SKIP_BUILD=1: using $BUILD as it is"
else
  CUDA_FLAG=ON
  [[ $DRY == 1 ]] && CUDA_FLAG=OFF
  step configure 120 "Release, CUCLIP_CUDA=$CUDA_FLAG, sm_90" \
    cmake -S "$REPO" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCUCLIP_CUDA=$CUDA_FLAG -DCUCLIP_CUDA_ARCHS=90 &&
    step build 300 "-j$JOBS" cmake --build "$BUILD" -j "$JOBS"
fi
CUCLIP=${GPU_CHECK_CUCLIP:-$BUILD/cuclip}
CONVERT=$BUILD/cuclip-convert

# --- 2. gpu tests -------------------------------------------------------------------------------
if [[ -f $BUILD/CTestTestfile.cmake ]]; then
  step "ctest -L gpu" 120 "tests skip (77) without a device" ctest --test-dir "$BUILD" -L gpu --output-on-failure -j 4 --timeout 100
else
  record "ctest -L gpu" skipped 0 "no configured build"
fi

# --- 3. kernel labs -----------------------------------------------------------------------------
: >"$OUT/kernels.txt"
run_lab() {  # run_lab BUDGET BINARY ARGS...: output appended to kernels.txt
  local budget=$1 bin=$2
  shift 2
  if [[ ! -x $bin ]]; then
    record "$(basename "$bin")" skipped 0 "not built"
    return
  fi
  # shellcheck disable=SC2016  # $1, $@ are bash -c's own arguments
  step "$(basename "$bin")" "$budget" "$*" bash -c 'out=$1; shift; "$@" | tee -a "$out"; exit "${PIPESTATUS[0]}"' _ "$OUT/kernels.txt" "$bin" "$@"
}
bin_path() {  # where a benchmark binary landed in the build tree (its name if nowhere)
  local p
  p=$(find "$BUILD" -maxdepth 4 -type f -name "$1" -perm -u+x 2>/dev/null | head -n 1)
  echo "${p:-$1}"
}
if [[ $DRY == 1 ]]; then
  run_lab 120 "$(bin_path cuclip_lab_layernorm_cpu)" --quick
  run_lab 120 "$(bin_path cuclip_bench_cpu_gemm)" --quick --reps 3
else
  run_lab 90 "$(bin_path cuclip_lab_gemm)" --quick --max-ms 3000
  run_lab 45 "$(bin_path cuclip_lab_layernorm)" --quick
  run_lab 60 "$(bin_path cuclip_lab_attention)" --quick --max-ms 3000
fi

# --- 4. end to end with the PyTorch anchors -----------------------------------------------------
has_anchor_deps() { "$1" -c 'import torch, transformers, numpy, PIL, matplotlib' >/dev/null 2>&1; }
PY=""
for cand in ${GPU_CHECK_PYTHON:-} /work/venv-ref/bin/python "$WORK/venv/bin/python" python3; do
  if command -v "$cand" >/dev/null 2>&1 && has_anchor_deps "$cand"; then
    PY=$cand
    break
  fi
done
if [[ -z $PY ]] && command -v python3 >/dev/null; then
  # No network is the common case: a failing index is noticed within seconds (no retries).
  # shellcheck disable=SC2016  # $1, $2 are bash -c's own arguments
  step "pip install anchors" 150 "reference/requirements.txt into $WORK/venv" bash -c \
    'python3 -m venv "$1" && "$1/bin/pip" install -q --retries 0 --timeout 10 -r "$2"' _ "$WORK/venv" "$REPO/benchmarks/reference/requirements.txt" &&
    has_anchor_deps "$WORK/venv/bin/python" && PY=$WORK/venv/bin/python
fi
if [[ -n $PY && $DRY != 1 ]] && ! "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1; then
  record "anchors" skipped 0 "$PY has torch but it sees no GPU"
  PY=""
fi
if [[ -n $PY && $DRY != 1 ]]; then
  # shellcheck disable=SC2016  # $1..$3 are bash -c's own arguments
  step "PyTorch SDPA anchor" 60 "bench_sdpa.py --quick (the attention lab's shapes)" bash -c \
    '"$1" "$2" --quick --reps 20 | tee -a "$3"; exit "${PIPESTATUS[0]}"' _ "$PY" "$REPO/benchmarks/reference/bench_sdpa.py" "$OUT/kernels.txt"
fi
if [[ -x $CUCLIP && -x $CONVERT && -n $PY ]]; then
  if [[ $DRY == 1 ]]; then
    E2E_ARGS=(--device cpu --batch 1 --tasks text_caption --iters 3 --max-seconds 5 --rounds 1 --n-images 4)
  else
    # shellcheck disable=SC2054  # the commas are batch lists, not array separators
    E2E_ARGS=(--device cuda --batch 1,8,64,256,1024 --iters 20 --max-seconds 2 --rounds 1 --compile-batch 64 --compile-tasks image)
  fi
  step "e2e vs PyTorch" 300 "run_e2e.py ${E2E_ARGS[*]}" \
    "$PY" "$REPO/benchmarks/run_e2e.py" "$OUT" --cuclip "$CUCLIP" --convert "$CONVERT" --python "$PY" \
    --workdir "$WORK/e2e" --shapes ViT-B/32 --anchor-timeout 140 "${E2E_ARGS[@]}"
elif [[ -x $CUCLIP ]]; then
  BACKEND=cuda
  [[ $DRY == 1 ]] && BACKEND=cpu
  record "anchors" skipped 0 "no Python with torch + transformers (no network?): cuclip bench alone"
  # shellcheck disable=SC2016  # $1..$4 are bash -c's own arguments
  step "cuclip bench" 180 "standard shapes, random weights, no anchors" bash -c \
    '"$1" bench --backend "$2" --model-dir "$3" --max-seconds 2 --json > "$4"' _ "$CUCLIP" "$BACKEND" "$WORK" "$OUT/e2e_results.json"
else
  record "e2e" skipped 0 "no cuclip binary"
fi

# Library warnings of the end-to-end run (e.g. a forward that could not be captured into a CUDA
# graph) from its own log, which stays on the machine.
if [[ -s $WORK/e2e/run_e2e.log ]]; then
  { echo "=== warnings in run_e2e.log"; grep -i "warning" "$WORK/e2e/run_e2e.log" | sort | uniq -c | head -n 20; echo; } >>"$LOGS"
fi

# --- 4b. batch-1 latency with and without CUDA graphs (what the graphs save; the issue's target is
# <= 0.4 ms for one ViT-B/32 image) ---------------------------------------------------------------
if [[ -x $CUCLIP && $DRY != 1 ]]; then
  for graphs in 1 0; do
    # shellcheck disable=SC2016  # $1..$4 are bash -c's own arguments
    # CUCLIP_GPU_TIMING: each forward's host enqueue time and device wait, logged to stderr.
    step "latency b1, graphs=$graphs" 60 "ViT-B/32 random weights, batch 1, CUCLIP_GPU_GRAPHS=$graphs" bash -c \
      'CUCLIP_GPU_GRAPHS=$1 CUCLIP_GPU_TIMING=1 CUCLIP_VERBOSE=1 "$2" bench --backend cuda --shapes B/32 --batch 1 --tasks image,text_caption --iters 50 --max-seconds 3 --model-dir "$3" --json > "$4" 2> "$5"' \
      _ "$graphs" "$CUCLIP" "$WORK" "$WORK/latency_graphs$graphs.json" "$WORK/latency_graphs$graphs.log"
  done
fi

# --- 4c. image preprocessing on the device (resize, crop, normalize) against the host's --------------
# (CUCLIP_GPU_RESIZE=0): model-resolution pixels and 640x480 frames, ViT-B/32 ----------------------
if [[ -x $CUCLIP && $DRY != 1 ]]; then
  for resize in 1 0; do
    # shellcheck disable=SC2016  # $1..$4 are bash -c's own arguments
    step "device resize=$resize" 60 "ViT-B/32, image + image_frame, batches 8-1024, CUCLIP_GPU_RESIZE=$resize" bash -c \
      'CUCLIP_GPU_RESIZE=$1 "$2" bench --backend cuda --shapes B/32 --batch 8,64,256,1024 --tasks image,image_frame --iters 10 --max-seconds 2 --model-dir "$3" --json > "$4"' \
      _ "$resize" "$CUCLIP" "$WORK" "$WORK/resize$resize.json"
  done
fi

# --- 5. compute-sanitizer on a tiny model's forward ---------------------------------------------
TINY=$WORK/tiny-f16.cuclip
IMG=$REPO/tests/data/reference/images/rgb_scene_121x91.jpg
if [[ -x $CONVERT && -x $CUCLIP ]]; then
  [[ -f $TINY ]] || step "convert tiny fixture" 30 "hf_legacy_quickgelu_f32 -> f16" \
    "$CONVERT" "$REPO/tests/data/models/hf_legacy_quickgelu_f32" -o "$TINY" --dtype f16
  EMBED=(embed -m "$TINY" --text "a photo of a cat" --text "two dogs" --image "$IMG" -o "$WORK/sanitizer.npy")
  if [[ $DRY == 1 ]]; then
    step "forward (cpu, dry run)" 60 "no sanitizer without a GPU" "$CUCLIP" "${EMBED[@]}" --backend cpu
  elif [[ -x $SANITIZER ]]; then
    step "memcheck" 90 "compute-sanitizer --tool memcheck" \
      "$SANITIZER" --tool memcheck --error-exitcode 9 --leak-check full "$CUCLIP" "${EMBED[@]}" --backend cuda
    step "racecheck" 90 "compute-sanitizer --tool racecheck" \
      "$SANITIZER" --tool racecheck --error-exitcode 9 "$CUCLIP" "${EMBED[@]}" --backend cuda
  else
    record sanitizer skipped 0 "compute-sanitizer not found at $SANITIZER"
  fi
else
  record sanitizer skipped 0 "no cuclip / cuclip-convert in $BUILD"
fi

# --- 6. every standard shape (random weights), cuclip alone, with what time is left -------------
if [[ -x $CUCLIP && -n $PY && $DRY != 1 && ${GPU_CHECK_NO_SHAPES:-0} != 1 ]]; then
  # shellcheck disable=SC2016  # $1..$3 are bash -c's own arguments
  step "cuclip bench B/32..H/14" 120 "random weights, --max-seconds 1" bash -c \
    '"$1" bench --backend cuda --shapes B/32,B/16,L/14,L/14@336,H/14 --model-dir "$2" --iters 10 --max-seconds 1 --json > "$3"' \
    _ "$CUCLIP" "$WORK" "$OUT/bench_shapes.json"
fi

# --- 7. roofline chart --------------------------------------------------------------------------
if [[ -s $OUT/kernels.txt && -n $PY ]]; then
  step roofline 30 "plot_roofline.py" "$PY" "$REPO/benchmarks/plot_roofline.py" "$OUT/kernels.txt" -o "$OUT/roofline.png"
fi

# --- summary (last) -----------------------------------------------------------------------------
{
  echo
  echo "| step | status | s | note |"
  echo "|---|---|---:|---|"
  for i in "${!STEP_NAMES[@]}"; do
    echo "| ${STEP_NAMES[$i]} | ${STEP_STATUS[$i]} | ${STEP_SECONDS[$i]} | ${STEP_NOTES[$i]} |"
  done
  echo
  grep -m2 '^# roofs' "$OUT/kernels.txt" 2>/dev/null | sed 's/^# /- /'
  # The best line of each lab version: its highest % of roof.
  if [[ -s $OUT/kernels.txt ]]; then
    awk -F'|' 'NF >= 7 && $1 !~ /^#/ && $1 !~ /^op/ && $5 ~ /[0-9]/ && $7 ~ /[0-9]/ {
                 key = $1 $2; gsub(/ +/, " ", key); p = $7; sub(/%.*/, "", p); gsub(/ /, "", p); s = $3; gsub(/^ +| +$/, "", s)
                 if (!(key in best) || p + 0 > best[key] + 0) { best[key] = p; line[key] = s } }
               END { for (k in best) { kk = k; gsub(/ +$/, "", kk); printf "- best %s: %s%% of roof (%s)\n", kk, best[k], line[k] } }' "$OUT/kernels.txt" | sort
  fi
  for g in 1 0; do
    f=$WORK/latency_graphs$g.json
    [[ -s $f && -n $PY ]] && "$PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
rows = ["%s p50 %.3f ms (min %.3f)" % (r["task"], r["latency_ms_p50"], r["latency_ms_min"]) for m in d["models"] for r in m["results"]]
print("- batch-1 latency, CUDA graphs %s: %s" % ("on" if sys.argv[2] == "1" else "off", "; ".join(rows)))' "$f" "$g"
    # Medians of the per-forward split (host enqueue vs device wait) by forward mode, from the log.
    [[ -s $WORK/latency_graphs$g.log && -n $PY ]] && "$PY" -c 'import re, sys, statistics as st
by = {}
for m in re.finditer(r"forward B=1 \(([^)]*)\): ([0-9.]+) us enqueuing on the host, ([0-9.]+) us waiting", open(sys.argv[1]).read()):
    by.setdefault(m.group(1), []).append((float(m.group(2)), float(m.group(3))))
print("  - B=1 forwards, median host enqueue / device wait: " + "; ".join(
    "%s %.0f / %.0f us (%d)" % (k, st.median(h for h, _ in v), st.median(w for _, w in v), len(v)) for k, v in by.items()))' "$WORK/latency_graphs$g.log"
  done
  for r in 1 0; do
    f=$WORK/resize$r.json
    [[ -s $f && -n $PY ]] && "$PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
rows = ["%s b%d %.0f/s" % (r["task"], r["batch"], r["images_per_s"]) for m in d["models"] for r in m["results"] if "images_per_s" in r]
print("- images, resize on the %s: %s" % ("device" if sys.argv[2] == "1" else "host", "; ".join(rows)))' "$f" "$r"
  done
  [[ -s $OUT/e2e_summary.md ]] && sed -n '5,$p' "$OUT/e2e_summary.md"
  echo
  echo "total $(($(date +%s) - START)) s; files in $OUT: $(cd "$OUT" && printf '%s ' *)"
} >>"$OUT/summary.md"
cat "$OUT/summary.md"
