#!/usr/bin/env bash
# GPU check on a machine with a real Vulkan GPU (no lavapipe pinning): prints the device, runs the
# renderer benchmark and a short headless demo, and leaves their figures in OUT_DIR. Needs only the
# built binaries (BUILD_DIR, default build) and the Vulkan loader with the GPU's driver.
#   scripts/gpu-check.sh OUT_DIR [BUILD_DIR]
# Environment: AW_GPU_DEVICE picks a device by name substring; REPS (default 5) sets the repetitions.
set -euo pipefail
out=${1:?usage: scripts/gpu-check.sh OUT_DIR [BUILD_DIR]}
build=${2:-build}
bin="$build/bin"
mkdir -p "$out"
for tool in aw-bench aw-demo; do
  [ -x "$bin/$tool" ] || { echo "gpu-check: $bin/$tool is missing (build first)" >&2; exit 1; }
done
# The machine's own drivers: drop any pinning to lavapipe left in the environment.
unset VK_DRIVER_FILES VK_ICD_FILENAMES LP_NUM_THREADS

echo "== device"
# The demo prints the device it chose; one headless frame is enough to learn it.
"$bin/aw-demo" --headless --entities 1 --frames 1 --warmup 0 | tee "$out/device.txt"

echo "== aw-bench render"
"$bin/aw-bench" render --reps "${REPS:-5}" --json "$out/bench-render.json" | tee "$out/bench-render.txt"

echo "== aw-demo (combat, 100,000 entities, batched then naive)"
"$bin/aw-demo" --headless --entities 100000 --frames 200 --stats --screenshot "$out/demo-batched.png" \
  | tee "$out/demo-batched.txt"
"$bin/aw-demo" --headless --entities 100000 --frames 60 --naive --stats | tee "$out/demo-naive.txt"

echo "== aw-bench particles (GPU path, 10,000,000 particles; target: a step within 2 ms)"
# Prints the device it runs on; the step time is the median of REPS repetitions of 5 steps each
# (emission, simulation and compaction, with the CPU waiting for each step).
"$bin/aw-bench" particles --filter gpu --entities 10000000 --reps "${REPS:-5}" --verbose \
  --json "$out/bench-particles-10M.json" 2>&1 | tee "$out/bench-particles-10M.txt"

echo "gpu-check: results in $out"
