#!/usr/bin/env bash
# The main job: builds kvlab (Release) and generates a story with the default model from the shared
# assets ($KVLAB_ASSETS, default ../shared) under a compressed KV cache (H2O heavy hitters, 96 slots per
# head). Extra arguments go to `kvlab generate` (a later --kv overrides this one).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export KVLAB_ASSETS="${KVLAB_ASSETS:-$(cd .. && pwd)/shared}"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKVLAB_UNITY="${KVLAB_UNITY:-ON}" >/dev/null
cmake --build build -j "${JOBS:-2}" --target kvlab
exec build/kvlab generate -m stories260K -p "Once upon a time" -n 300 --temp 0.8 --seed 42 \
  --kv "h2o:budget=96,recent=32" "$@"
