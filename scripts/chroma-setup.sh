#!/usr/bin/env bash
# Installs the Chroma vector database server that the chroma-labelled tests run against: npm
# chromadb@3.0.6 with its native bindings pinned to chromadb-js-bindings-linux-x64-gnu@1.0.1 through
# npm overrides (later bindings need a newer glibc than Debian 12's 2.36), from the committed
# scripts/chroma/package-lock.json, into a cache folder keyed by the lock's checksum. Idempotent:
# a second run checks the marker and returns. Prints the install directory on stdout.
#
#   scripts/chroma-setup.sh           install (or verify) and print the directory
#   AW_CHROMA_DIR=DIR                 install there instead of ${XDG_CACHE_HOME:-~/.cache}/astraweave/chroma
#
# Start a server by hand: (cd "$(scripts/chroma-setup.sh)" && npx chroma run --path DATA --port 8000)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
dir="${AW_CHROMA_DIR:-${XDG_CACHE_HOME:-${HOME:?HOME is not set}/.cache}/astraweave/chroma}"

for tool in node npm sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || { echo "chroma-setup: '$tool' not found (scripts/deps.sh installs it)" >&2; exit 1; }
done

lock_sum="$(sha256sum "$repo/scripts/chroma/package-lock.json" | cut -c1-16)"
if [ -f "$dir/.lock-$lock_sum" ] && [ -x "$dir/node_modules/.bin/chroma" ]; then
  echo "$dir"
  exit 0
fi
echo "chroma-setup: installing chromadb 3.0.6 into $dir" >&2
start=$(date +%s)
mkdir -p "$dir"
rm -f "$dir"/.lock-*
cp "$repo/scripts/chroma/package.json" "$repo/scripts/chroma/package-lock.json" "$dir/"
(cd "$dir" && npm ci --silent --no-audit --no-fund >/dev/null)
bindings="$(node -p "require('$dir/node_modules/chromadb-js-bindings-linux-x64-gnu/package.json').version" 2>/dev/null || true)"
if [ "$bindings" != "1.0.1" ]; then
  echo "chroma-setup: expected chromadb-js-bindings-linux-x64-gnu 1.0.1, found '${bindings:-none}'" >&2
  exit 1
fi
touch "$dir/.lock-$lock_sum"
echo "chroma-setup: done in $(( $(date +%s) - start )) s" >&2
echo "$dir"
