#!/usr/bin/env bash
# Installs the Debian packages kvlab builds and tests with (skips apt when they are all present already).
set -euo pipefail
PACKAGES=(
  g++ cmake ninja-build pkg-config
  libopenblas-dev        # prefill GEMM
  nlohmann-json3-dev     # config.json, tokenizer.json, safetensors headers, result rows
  libcli11-dev           # command line
  libfmt-dev
  libpcre2-dev           # GPT-2 pre-tokenizer regex (Unicode classes, lookahead)
  libutf8proc-dev        # tokenizer normalizers (NFC, NFKC, lower-casing)
  libgtest-dev libgmock-dev
  libbenchmark-dev       # micro-benchmarks (bench/)
  libtomlplusplus-dev    # sweep configs (configs/*.toml)
  python3-matplotlib python3-numpy  # kvlab report draws its plots with /usr/bin/python3 + matplotlib
  pybind11-dev python3-dev python3-venv python3-pip python3-setuptools python3-wheel  # the Python package
  python3-pandas python3-pytest     # kvlab.results, the Python tests
  jupyter-nbconvert python3-ipykernel  # notebooks/analysis.ipynb, executed by the tests
  chromium               # report test: headless screenshot of index.html
  clang libclang-rt-14-dev  # libFuzzer targets (scripts/fuzz.sh)
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "[kvlab] installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
