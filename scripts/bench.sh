#!/usr/bin/env bash
# Reproduces the numbers in BENCHMARKS.md: writes a random-weight llama-110m (f32) with `kvlab init`,
# measures the machine's read bandwidth, then prefill/decode throughput with 1 and 2 threads.
# Run it on an otherwise idle machine. Usage: scripts/bench.sh [model-dir]
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
