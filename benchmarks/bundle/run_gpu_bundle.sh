#!/usr/bin/env bash
# benchmarks/bundle/run_gpu_bundle.sh BUNDLE.tar.xz OUTDIR — on a GPU machine, from the repository
# root: unpacks a bundle made by make_gpu_bundle.sh next to the repository, points the dynamic
# loader at the libraries it carries (dropping those the machine has: the system's are newer), and
# runs benchmarks/gpu_check.sh on it (GPU_CHECK_SKIP_BUILD). Extra environment (GPU_CHECK_*) passes
# through.
set -uo pipefail
bundle=${1:?usage: run_gpu_bundle.sh BUNDLE.tar.xz OUTDIR}
outdir=${2:?usage: run_gpu_bundle.sh BUNDLE.tar.xz OUTDIR}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
name=$(tar -tJf "$bundle" | head -n 1 | cut -d/ -f1)
root=$(tar -xJOf "$bundle" "$name/bundle-root")
# The build's absolute paths (test data, the CLI) must resolve: the repository must be at `root`.
if [[ $repo != "$root" ]]; then
  if [[ -e $root ]]; then echo "run_gpu_bundle: $root exists and is not this repository ($repo)" >&2; exit 1; fi
  mkdir -p "$(dirname "$root")" && ln -s "$repo" "$root"
fi
tar -xJf "$bundle" -C "$root"
lib=$root/$name/lib
for f in libpng16.so.16 libwebp.so.7 libsharpyuv.so.0 libgomp.so.1 libgcc_s.so.1; do
  ldconfig -p | grep -q "^[[:space:]]*$f " && rm -f "$lib/$f"
done
sys=$(ldconfig -p | awk '$1 == "libstdc++.so.6" {print $NF; exit}')
[[ -n $sys ]] && grep -aq GLIBCXX_3.4.30 "$sys" && rm -f "$lib/libstdc++.so.6"
cublas=""
if ! ldconfig -p | grep -q libcublasLt.so.13; then
  for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
    [[ -e $d/libcublasLt.so.13 ]] && { cublas=$d; break; }
  done
fi
export LD_LIBRARY_PATH=$lib${cublas:+:$cublas}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
if ldd "$root/$name/cuclip" | grep "not found"; then echo "run_gpu_bundle: libraries missing (above)" >&2; fi
GPU_CHECK_SKIP_BUILD=1 GPU_CHECK_BUILD_DIR=$root/$name GPU_CHECK_COMMIT=${GPU_CHECK_COMMIT:-$(cat "$root/$name/bundle-commit" 2>/dev/null)} \
  bash "$repo/benchmarks/gpu_check.sh" "$outdir"
