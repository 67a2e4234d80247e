#!/usr/bin/env bash
# CI performance gate: instructions per frame of a fixed seed-profile run, counted by valgrind's
# cachegrind (deterministic, unlike wall time on shared machines), against the committed baseline.
# More than 3% worse fails. Also reports the last-level cache miss rate (roadmap KPI: < 5%).
#
#   scripts/perf-gate.sh [BUILD_DIR]            check (default build/, must be a Release build)
#   scripts/perf-gate.sh --update [BUILD_DIR]   measure and rewrite the baseline (make perf-baseline)
#
# Per-frame figures are the difference of two runs that differ only in frame count, so world
# creation, spawning and the report cancel out.
set -euo pipefail
cd "$(dirname "$0")/.."

update=0
if [ "${1:-}" = "--update" ]; then update=1; shift; fi
build=${1:-build}
tool="$build/bin/aw-stress"
baseline=bench/baselines/cachegrind-seed-profile.json
threshold_pct=${PERF_GATE_THRESHOLD_PCT:-3}

scenario=seed-profile entities=1000 threads=1 warmup=50 short=100 long=400

[ -x "$tool" ] || { echo "perf-gate: $tool not found; build first (make build)" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "perf-gate: valgrind is not installed (scripts/deps.sh installs it)" >&2; exit 2; }
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
if [ "$build_type" != "Release" ]; then
  echo "perf-gate: $build is a '${build_type:-unknown}' build; the baseline is for Release builds" >&2
  exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Fixed cache geometry (not the host's), so miss rates compare across machines.
measure() { # frames -> "Ir I1mr ILmr Dr D1mr DLmr Dw D1mw DLmw" totals
  local out="$work/cg.$1"
  valgrind --tool=cachegrind --cache-sim=yes --I1=32768,8,64 --D1=32768,8,64 --LL=8388608,16,64 \
    --cachegrind-out-file="$out" "$tool" --scenario "$scenario" --entities "$entities" \
    --threads "$threads" --frames "$1" --warmup "$warmup" >"$work/stdout.$1" 2>"$work/stderr.$1" || {
    echo "perf-gate: the run under cachegrind failed:" >&2
    cat "$work/stderr.$1" >&2
    exit 1
  }
  local events summary
  events=$(sed -n 's/^events: //p' "$out" | sed 's/ *$//')
  summary=$(sed -n 's/^summary: //p' "$out")
  [ "$events" = "Ir I1mr ILmr Dr D1mr DLmr Dw D1mw DLmw" ] || {
    echo "perf-gate: unexpected cachegrind events '$events'" >&2
    exit 1
  }
  echo "$summary"
}

echo "perf-gate: $scenario, $entities entities, $threads thread, frames $long - $short, under cachegrind"
a=$(measure "$short")
b=$(measure "$long")
read -r ipf d1 lld ll <<<"$(awk -v a="$a" -v b="$b" -v n=$((long - short)) 'BEGIN {
  split(a, x, " "); split(b, y, " ");
  for (i = 1; i <= 9; i++) d[i] = y[i] - x[i];
  refs = d[1] + d[4] + d[7];
  printf "%.0f %.4f %.4f %.4f\n", d[1] / n, 100 * (d[5] + d[8]) / (d[4] + d[7]),
         100 * (d[6] + d[9]) / (d[4] + d[7]), 100 * (d[3] + d[6] + d[9]) / refs }')"
compiler=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
compiler_version=$("${compiler:-cc}" --version 2>/dev/null | head -n 1)
echo "perf-gate: $ipf instructions per frame; LL miss rate ${ll}% of all references (KPI < 5%);" \
     "data: D1 miss rate ${d1}%, LL ${lld}%"
awk -v r="$ll" 'BEGIN { exit !(r >= 5) }' && echo "perf-gate: warning: LL miss rate ${ll}% is above the 5% KPI"

if [ "$update" = 1 ]; then
  mkdir -p "$(dirname "$baseline")"
  cat >"$baseline" <<JSON
{
  "scenario": "$scenario",
  "entities": $entities,
  "threads": $threads,
  "warmup": $warmup,
  "frames": [$short, $long],
  "tool": "valgrind --tool=cachegrind --cache-sim=yes --I1=32768,8,64 --D1=32768,8,64 --LL=8388608,16,64",
  "compiler": "$compiler_version",
  "instructions_per_frame": $ipf,
  "ll_miss_rate_pct": $ll,
  "d1_miss_rate_pct": $d1,
  "lld_miss_rate_pct": $lld
}
JSON
  echo "perf-gate: baseline written to $baseline; commit it"
  exit 0
fi

[ -f "$baseline" ] || { echo "perf-gate: no baseline at $baseline; create it with 'make perf-baseline'" >&2; exit 1; }
base_ipf=$(sed -n 's/.*"instructions_per_frame": *\([0-9]*\).*/\1/p' "$baseline")
base_compiler=$(sed -n 's/.*"compiler": *"\(.*\)".*/\1/p' "$baseline")
[ -n "$base_ipf" ] || { echo "perf-gate: $baseline has no instructions_per_frame" >&2; exit 1; }
if [ "$base_compiler" != "$compiler_version" ]; then
  echo "perf-gate: warning: the baseline was measured with '$base_compiler', this build uses '$compiler_version';" \
       "instruction counts differ between compilers"
fi
ratio=$(awk -v c="$ipf" -v b="$base_ipf" 'BEGIN { printf "%.4f", c / b }')
pct=$(awk -v r="$ratio" 'BEGIN { printf "%+.2f", (r - 1) * 100 }')
if awk -v r="$ratio" -v t="$threshold_pct" 'BEGIN { exit !(r > 1 + t / 100) }'; then
  echo "perf-gate: FAIL: $scenario ($entities entities, $threads thread): ${ratio}x the baseline's instructions" \
       "per frame ($ipf vs $base_ipf, ${pct}%), more than ${threshold_pct}% worse." >&2
  echo "perf-gate: if the cost is intended, run 'make perf-baseline' and commit $baseline." >&2
  exit 1
fi
echo "perf-gate: ok: $scenario ($entities entities, $threads thread): ${ratio}x the baseline ($ipf vs $base_ipf," \
     "${pct}%; fails above +${threshold_pct}%)"
if awk -v r="$ratio" -v t="$threshold_pct" 'BEGIN { exit !(r < 1 - t / 100) }'; then
  echo "perf-gate: faster than the baseline by more than ${threshold_pct}%: consider 'make perf-baseline' to lock it in"
fi
