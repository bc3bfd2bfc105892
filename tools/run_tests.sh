#!/usr/bin/env bash
# Set up (or reuse) the project's virtual environment, then run the test suite.
#   bash tools/run_tests.sh [pytest args]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/install.sh"
cd "$ROOT"
exec "${MMEVAD_VENV:-$ROOT/.venv}/bin/python" -m pytest "$@"
