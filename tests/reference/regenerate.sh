#!/usr/bin/env bash
# Regenerates every Python-made fixture under tests/data/ with the pinned reference libraries.
#
#   tests/reference/regenerate.sh
#
# Creates (or reuses) a virtual environment, installs requirements.txt into it, then runs the
# generators in order. The venv is tests/reference/.venv unless CUCLIP_REF_VENV names another one
# (e.g. CUCLIP_REF_VENV=/work/venv-ref to reuse an existing install). The generators are seeded and
# single-threaded, so a second run rewrites byte-identical files (compare with sha256sum).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${CUCLIP_REF_VENV:-$here/.venv}"

if [ ! -x "$venv/bin/python" ]; then
  echo "creating venv $venv"
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"

# Nothing may come from a model hub; hashing and thread counts must not vary between runs.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1
export PYTHONHASHSEED=0 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
export CUDA_VISIBLE_DEVICES=""

cd "$here"
"$venv/bin/python" gen_models.py
for script in gen_tokenizer.py gen_images.py; do
  if [ -f "$script" ]; then
    echo "running $script"
    "$venv/bin/python" "$script"
  fi
done
echo "fixtures regenerated under $(cd "$here/../data" && pwd)"
