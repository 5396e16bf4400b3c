#!/usr/bin/env bash
# Installs what cuclip needs to build and test on Debian 12 / Ubuntu 22.04+, from Debian packages
# only, skipping what is already there. The CUDA toolkit is optional: when nvcc is found the CUDA
# code is compiled too.
set -euo pipefail
pkgs=(build-essential cmake pkg-config git
      catch2 libstb-dev nlohmann-json3-dev zlib1g-dev
      libutf8proc-dev libpcre2-dev libicu-dev
      libturbojpeg0-dev libjpeg62-turbo-dev libpng-dev libwebp-dev
      libopenblas-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
