#!/usr/bin/env bash
# benchmarks/bundle/make_gpu_bundle.sh BUILD_DIR OUT.tar.xz
#
# Packs a CUDA build of cuclip (configured with -DCUCLIP_CUDA=ON -DCUCLIP_OPENBLAS=OFF, Release, for
# the GPU's architecture) for a GPU machine that has the CUDA toolkit and driver but not the Debian
# -dev packages cuclip builds against (the case of the GPU machines lent to this project): the
# ctest files, the `gpu` test binaries, the CLI, the converter, the kernel labs, and the shared
# libraries such a machine may lack (ICU, libjpeg, libpng, libwebp, libgomp, libstdc++, cudart).
# cuBLAS/cuBLASLt are too large to carry and are taken from the GPU machine's toolkit.
#
# On the GPU machine, from the repository root (the build's absolute paths must resolve there: the
# bundle keeps BUILD_DIR's path, so check out the repository at the same place or symlink it):
#   benchmarks/bundle/run_gpu_bundle.sh OUT.tar.xz OUTDIR     # unpacks, then runs gpu_check.sh
set -euo pipefail
build=$(cd "${1:?usage: make_gpu_bundle.sh BUILD_DIR OUT.tar.xz}" && pwd)
out=${2:?usage: make_gpu_bundle.sh BUILD_DIR OUT.tar.xz}
name=$(basename "$build")
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
dst=$stage/$name
mkdir -p "$dst/lib"
cd "$build"
find . -name CTestTestfile.cmake -exec cp --parents {} "$dst/" \;
bins=$(ctest -L gpu --show-only=json-v1 | python3 -c "import json,sys; print('\n'.join(t['command'][0] for t in json.load(sys.stdin)['tests']))")
for b in $bins "$build/cuclip" "$build/cuclip-convert" "$build"/benchmarks/cuclip_lab_*; do
  [[ -x $b ]] || continue
  rel=${b#"$build"/}
  mkdir -p "$dst/$(dirname "$rel")"
  cp "$b" "$dst/$rel"
done
for l in libicuuc.so.72 libicudata.so.72 libjpeg.so.62 libpng16.so.16 libwebp.so.7 libsharpyuv.so.0 libgomp.so.1 \
         libstdc++.so.6 libgcc_s.so.1 libcudart.so.13; do
  p=$(ldconfig -p | awk -v n="$l" '$1 == n {print $NF; exit}')
  [[ -z $p && -e /usr/local/cuda/lib64/$l ]] && p=/usr/local/cuda/lib64/$l
  [[ -z $p && -e /usr/local/cuda/lib/$l ]] && p=/usr/local/cuda/lib/$l
  if [[ -n $p ]]; then cp -L "$p" "$dst/lib/$l"; fi
done
git -C "$build" rev-parse HEAD > "$dst/bundle-commit" 2>/dev/null || true
echo "$(dirname "$build")" > "$dst/bundle-root"
tar -C "$stage" -cJf "$out" "$name"
ls -la "$out"
