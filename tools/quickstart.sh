#!/usr/bin/env bash
# The main job on the built-in default: set up (or reuse) the environment, generate the synthetic
# AVA-format dataset into data/synthetic_ava, and score its ground truth with AVAMetric.
#   bash tools/quickstart.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/install.sh"
PY="${MMEVAD_VENV:-$ROOT/.venv}/bin/python"
cd "$ROOT"

echo "== generating the synthetic AVA dataset (data/synthetic_ava)"
"$PY" tools/data/generate_synthetic_ava.py data/synthetic_ava

echo "== scoring its validation ground truth with AVAMetric"
"$PY" tools/analysis_tools/eval_ground_truth.py configs/_base_/datasets/synthetic_ava.py
