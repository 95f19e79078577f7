#!/usr/bin/env bash
# Installs the Python package `kvlab` into a virtual environment, without network: VENV (default .venv at
# the repository root), made with --system-site-packages so that numpy, pandas, matplotlib and Jupyter
# come from Debian's packages (Debian's pip refuses the system Python, PEP 668). The extension is built
# by the repository's CMake build (build/, or KVLAB_BUILD_DIR). Then:
#   .venv/bin/python -c 'import kvlab'      or      source .venv/bin/activate
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
VENV="${VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  /usr/bin/python3 -m venv --system-site-packages "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --no-deps --no-build-isolation --no-index ./python
# A Jupyter kernel that runs this environment's python, so notebooks opened from it import kvlab (Debian's
# own "python3" kernel runs /usr/bin/python3, which does not see the environment).
"$VENV/bin/python" -Xfrozen_modules=off -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (kvlab)" >/dev/null
echo "[kvlab] installed into $VENV: $VENV/bin/python -c 'import kvlab'"
