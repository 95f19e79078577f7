#!/usr/bin/env bash
# Reproduces the numbers in BENCHMARKS.md: writes a random-weight llama-110m (f32) with `kvlab init`,
# measures the machine's read bandwidth, then prefill/decode throughput with 1 and 2 threads.
# Then the weight formats of issue 6 (f32, bf16, f16, q8: the f32 checkpoint converted at load by --weights).
# Run it on an otherwise idle machine. Usage: scripts/bench.sh [model-dir]
# WEIGHTS="bf16 q8" scripts/bench.sh limits the formats; WEIGHTS= skips them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "${JOBS:-2}" --target kvlab
model="${1:-/tmp/kvlab-llama-110m}"
[ -f "$model/model.safetensors" ] || build/kvlab init --preset llama-110m --out "$model" --seed 1 --force
lscpu | grep -E "Model name|^CPU\(s\)" || true
for t in 1 2; do build/kvlab bench --membw -t "$t"; done
for t in 1 2; do
  build/kvlab bench -m "$model" -t "$t" -p 128 -n 64 -r 5
  build/kvlab bench -m "$model" -t "$t" -p 0 -d 1024 -n 64 -r 3
done
# Weight formats (issue 6). The bound of each run is that format's bytes / the bandwidth measured in the run.
for w in ${WEIGHTS-f32 bf16 f16 q8}; do
  for t in 1 2; do
    build/kvlab bench -m "$model" --weights "$w" -t "$t" -p 128 -n 64 -r 5
    build/kvlab bench -m "$model" --weights "$w" -t "$t" -p 0 -d 1024 -n 64 -r 3
  done
done
