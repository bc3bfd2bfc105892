#!/usr/bin/env bash
# The main job on the built-in default, end to end on a CPU:
#   1. set up (or reuse) the environment (tools/install.sh);
#   2. generate the synthetic AVA-format dataset into data/synthetic_ava and check it by scoring
#      its own validation ground truth with AVAMetric (mAP 1.0);
#   3. train the tiny EVAD config from scratch with tools/train.py;
#   4. evaluate the trained checkpoint with tools/test.py and print the frame-mAP@0.5.
#
#   bash tools/quickstart.sh     (12 min on 2 CPU cores with the environment set up; frame-mAP 0.510)
#
# Knobs: QUICKSTART_CONFIG (another synthetic config), QUICKSTART_WORK_DIR
# (default work_dirs/quickstart), extra arguments go to tools/train.py (e.g. --cfg-options ...).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/install.sh"
PY="${MMEVAD_VENV:-$ROOT/.venv}/bin/python"
CONFIG="${QUICKSTART_CONFIG:-configs/evad/evad_vit-tiny-p8-stem-ktp0.7_scratch_1xb8-4x8x1-1900it_synthetic-ava-rgb.py}"
WORK_DIR="${QUICKSTART_WORK_DIR:-work_dirs/quickstart}"
cd "$ROOT"
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore::UserWarning}"  # mmengine's pkg_resources notice

echo "== generating the synthetic AVA dataset (data/synthetic_ava: 144 training videos, the default 4 validation videos)"
"$PY" tools/data/generate_synthetic_ava.py data/synthetic_ava --num-train-videos 144

echo "== checking it: its validation ground truth scored by AVAMetric"
"$PY" tools/analysis_tools/eval_ground_truth.py configs/_base_/datasets/synthetic_ava.py \
    | grep -E "mAP/overall|ground truth" || true

mkdir -p "$WORK_DIR"
echo "== training $CONFIG (log: $WORK_DIR.train.log)"
start=$(date +%s)
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" "$@" > "$WORK_DIR.train.log" 2>&1 \
    || { tail -n 40 "$WORK_DIR.train.log"; exit 1; }
train_s=$(( $(date +%s) - start ))
checkpoint="$(cat "$WORK_DIR/last_checkpoint")"

echo "== evaluating $checkpoint with tools/test.py"
start=$(date +%s)
"$PY" tools/test.py "$CONFIG" "$checkpoint" --work-dir "$WORK_DIR" > "$WORK_DIR.test.log" 2>&1 \
    || { tail -n 40 "$WORK_DIR.test.log"; exit 1; }
test_s=$(( $(date +%s) - start ))
grep -E "Class .* AP:" "$WORK_DIR.test.log" | sed 's/^.*- INFO - //' || true
frame_map="$(grep -oE "mAP/overall: [0-9.]+" "$WORK_DIR.test.log" | tail -n 1 | cut -d' ' -f2)"
echo "frame-mAP@0.5 of the tiny EVAD on the synthetic validation split: $frame_map" \
     "(training ${train_s} s, testing ${test_s} s)"
