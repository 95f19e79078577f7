#!/usr/bin/env bash
# Builds kvlab twice (Release, and Debug with AddressSanitizer + UndefinedBehaviorSanitizer) and runs the
# whole test suite on both. Assets: $KVLAB_ASSETS, default ../shared next to the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
JOBS="${JOBS:-2}"
export KVLAB_ASSETS="${KVLAB_ASSETS:-$(cd .. && pwd)/shared}"

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$JOBS"
(cd build && ctest --output-on-failure -j "$JOBS")

cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DKVLAB_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$JOBS"
# halt_on_error: any sanitizer report fails the test that caused it.
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
# Tests that only re-load the real 9-33 MB tokenizer.json files (each load takes tens of seconds at -O0
# under the sanitizers; TasksCli.Chat loads Qwen3's) run in the Release pass above; here the same code is covered by the reference test
# of every family (TokenizerReference), the unit tests and the fuzz targets below.
# RecallChar.GreedyAnswers re-runs 600 generations the task tests already cover under the sanitizers.
ASAN_SKIP='GgufVocabGolden|ChatTemplateGolden.RendersMatchReference|ChatCli|TokenizeCli|TokenizerJsonMatches|TasksCli.Chat|RecallChar.GreedyAnswers'
(cd build-asan && ctest --output-on-failure -j "$JOBS" -E "$ASAN_SKIP")

# Short libFuzzer runs of the parsers (clang, ASan + UBSan).
scripts/fuzz.sh
echo "[kvlab] all tests passed (Release, ASan/UBSan and fuzzing)"
