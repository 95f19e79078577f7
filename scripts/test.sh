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
(cd build-asan && ctest --output-on-failure -j "$JOBS")

# Short libFuzzer runs of the parsers (clang, ASan + UBSan).
scripts/fuzz.sh
echo "[kvlab] all tests passed (Release, ASan/UBSan and fuzzing)"
