#!/usr/bin/env bash
# Installs what cuclip needs to build and test on Debian 12 / Ubuntu 22.04+, from Debian packages
# only, skipping what is already there. The CUDA toolkit is optional: when nvcc is found the CUDA
# code is compiled too.
set -euo pipefail
pkgs=(build-essential cmake pkg-config git
      catch2 libstb-dev nlohmann-json3-dev zlib1g-dev
      libicu-dev
      libturbojpeg0-dev libjpeg62-turbo-dev libpng-dev libwebp-dev
      libopenblas-dev
      clang libclang-rt-14-dev libomp-dev)  # clang + libFuzzer + OpenMP: tests/fuzz (run.sh)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# With the CUDA toolkit but without cuobjdump (the toolkit here ships only the compiler), fetch
# NVIDIA's cuobjdump and nvdisasm wheels from PyPI (cuobjdump -sass needs nvdisasm beside it) so the
# tests can check the kernels' SASS for HMMA. Best effort: without them those checks are not registered.
tools="${CUCLIP_TOOLS_DIR:-$HOME/.cache/cuclip-tools}"
if command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then
  if ! command -v cuobjdump >/dev/null 2>&1 && [ ! -x /usr/local/cuda/bin/cuobjdump ] &&
     { [ ! -x "$tools/nvidia/cu13/bin/cuobjdump" ] || [ ! -x "$tools/nvidia/cu13/bin/nvdisasm" ]; }; then
    python3 -m pip install --quiet --disable-pip-version-check --upgrade --target "$tools" \
      nvidia-cuda-cuobjdump==13.2.51 nvidia-cuda-nvdisasm==13.2.51 >/dev/null 2>&1 ||
      echo "note: could not install cuobjdump/nvdisasm from PyPI; the SASS checks will be skipped" >&2
  fi
fi
