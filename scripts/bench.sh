#!/usr/bin/env bash
# Reproduces the numbers in BENCHMARKS.md: writes a random-weight llama-110m (f32) with `kvlab init`,
# measures the machine's read bandwidth, decode against the bound and prefill for each weight format (f32,
# bf16, f16, q8: the f32 checkpoint converted at load by --weights), attention at depth 4096, the policies'
# hook times and the prefill kernels' micro-benchmark.
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
# Every weight format (f32 and the conversions at load): decode at depths 128 and 1024, each repetition
# against the mean of the bandwidth measured right before and right after it, and prefill pp128 / pp512.
for w in ${WEIGHTS-f32 bf16 f16 q8}; do
  build/kvlab bench -m "$model" --weights "$w" -t 2 -p 128 -d 128,1024 -n 64 -r 3
  build/kvlab bench -m "$model" --weights "$w" -t 2 -p 512 -n 0 -r 3 --no-membw
done
# Attention at depth 4096: the step there against the step at depth 16.
for w in f32 bf16; do build/kvlab bench -m "$model" --weights "$w" -t 2 -p 0 -d 16,4096 -n 32 -r 3; done
# The policies' own hooks (Observe + Compress) per decode step at depths 1024 and 4096, over 128 steps: four
# evictions of the scored policies' default chunk (budget/8 = 32).
for spec in full window:budget=256 sinks:budget=256 random:budget=256 knorm:budget=256 h2o:budget=256 \
            tova:budget=256 snapkv:budget=256 "sketch:type=cms,width=512,depth=4,budget=256" \
            "sketch:type=cs,width=512,depth=4,budget=256" "sketch:type=race,width=512,depth=4,budget=256" \
            cluster:budget=256 "quant:k=int4,v=int4,residual=64"; do
  build/kvlab bench -m "$model" -t 2 -p 0 -d 1024,4096 -n 128 -r 1 --no-membw --kv "$spec"
done
# The prefill kernels and the sketches' updates alone.
cmake --build build -j "${JOBS:-2}" --target kvlab_microbench
build/bench/kvlab_microbench --benchmark_filter=MatMul
build/bench/kvlab_microbench --benchmark_filter='AddRow|Estimate|Race'
echo "prefill against llama.cpp: scripts/compare-llamacpp.sh LLAMA_BENCH $model (BENCHMARKS.md)"
