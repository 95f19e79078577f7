#!/usr/bin/env bash
# Reproduces the numbers in BENCHMARKS.md: writes a random-weight llama-110m (f32) with `kvlab init`,
# measures the machine's read bandwidth, then prefill/decode throughput with 1 and 2 threads for each weight
# format (f32, bf16, f16, q8: the f32 checkpoint converted at load by --weights), then context 4096.
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
# Every weight format (f32 and the conversions at load), decode at depth 128 and 1024; each decode
# repetition is compared with the mean of the bandwidth measured right before and right after it.
for w in ${WEIGHTS-f32 bf16 f16 q8}; do
  for t in 1 2; do
    build/kvlab bench -m "$model" --weights "$w" -t "$t" -p 128 -d 128,1024 -n 64 -r 3
  done
done
# Context 4096 (f32 weights): the full cache, int4 and int8 caches, and two budget-256 eviction policies.
for spec in full "quant:k=int4,v=int4,residual=64" "quant:k=int8,v=int8" "window:budget=256" "h2o:budget=256,recent=64"; do
  build/kvlab bench -m "$model" -t 2 -p 0 -d 4096 -n 32 -r 2 --kv "$spec"
done
