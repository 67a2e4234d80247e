#!/usr/bin/env bash
# Runs the Chroma integration tests (ctest label `chroma`) against a real server: installs it
# (scripts/chroma-setup.sh), starts it on a free loopback port with a fresh data folder, waits for
# its heartbeat, runs the tests with AW_CHROMA_URL set, and stops it even when they fail.
#
#   scripts/chroma-test.sh [BUILD_DIR]      (default: build; the tests must be built there)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-build}"
case "$build" in /*) ;; *) build="$repo/$build" ;; esac
[ -d "$build" ] || { echo "chroma-test: no build directory $build" >&2; exit 1; }

dir="$("$repo/scripts/chroma-setup.sh")"
data="$(mktemp -d "${TMPDIR:-/tmp}/aw-chroma-data.XXXXXX")"
log="$data.log"
# A free port: bind port 0 on loopback and read what the kernel chose.
port="$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close();})")"
url="http://127.0.0.1:$port"

server=""
stop() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill "$server" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server" 2>/dev/null || true
  fi
  rm -rf "$data"
}
trap stop EXIT

echo "chroma-test: starting Chroma on $url (data $data, log $log)" >&2
(cd "$dir" && exec node_modules/.bin/chroma run --path "$data" --host 127.0.0.1 --port "$port") >"$log" 2>&1 &
server=$!

for _ in $(seq 1 300); do
  if curl -fsS "$url/api/v2/heartbeat" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server" 2>/dev/null; then
    echo "chroma-test: the server exited; its log:" >&2
    tail -n 40 "$log" >&2
    exit 1
  fi
  sleep 0.1
done
curl -fsS "$url/api/v2/heartbeat" >/dev/null || { echo "chroma-test: no heartbeat from $url after 30 s" >&2; tail -n 40 "$log" >&2; exit 1; }

cd "$build"
AW_CHROMA_URL="$url" ctest --output-on-failure -L chroma
