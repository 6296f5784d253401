#!/usr/bin/env bash
# Create or update the benchmark virtual environment `.venv-bench` at the repository root:
# the package in editable mode plus the competitor and tools listed in requirements.txt.
# Safe to run repeatedly. Usage: bash benchmarks/setup.sh   (PYTHON=python3.11 to pick an interpreter)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ROOT}/.venv-bench"
PYTHON="${PYTHON:-python3}"

if [ ! -x "${VENV}/bin/python" ]; then
    "${PYTHON}" -m venv "${VENV}"
fi

# constraints.txt pins torch (a CPU build on the project's machines) so that no other
# torch build is pulled in by the competitor's dependencies.
"${VENV}/bin/python" -m pip install --quiet -c "${ROOT}/constraints.txt" -e "${ROOT}"
"${VENV}/bin/python" -m pip install --quiet -c "${ROOT}/constraints.txt" -r "${ROOT}/benchmarks/requirements.txt"

"${VENV}/bin/python" - <<'PY'
import importlib.metadata as md
for name in ("torch", "adastft", "dstft", "psutil"):
    print(f"{name}=={md.version(name)}")
PY
