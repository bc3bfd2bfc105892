#!/usr/bin/env bash
# Create or reuse the project-local virtual environment (.venv) with the OpenMMLab stack mmevad
# is tested with: torch 2.13.0, mmcv 2.1.0 *with compiled ops*, mmengine 0.10.7, mmdet 3.3.0,
# mmaction2 1.2.0, and mmevad itself (editable) with its test extra. These exact versions live
# here; requirements/runtime.txt (and the check in mmevad/__init__.py) give compatible ranges.
#
# Idempotent: every step first checks whether it is already satisfied, so a second run installs
# nothing. Environment knobs:
#   MMEVAD_VENV       where the virtual environment lives        (default: <repo>/.venv)
#   PYTHON            interpreter used to create it              (default: python3)
#   MMEVAD_WHEEL_DIR  folder searched for a prebuilt mmcv wheel  (default: <repo>/../shared/wheels)
#   FORCE_CUDA=1      build mmcv's CUDA ops too (needs nvcc; see README, "GPU install")
#   MAX_JOBS          parallel compile jobs for the mmcv build   (default: number of cores)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MMEVAD_VENV:-$ROOT/.venv}"
WHEEL_DIR="${MMEVAD_WHEEL_DIR:-$ROOT/../shared/wheels}"
# the tested versions
TORCH_VERSION=2.13.0
MMENGINE_VERSION=0.10.7
MMCV_VERSION=2.1.0
MMDET_VERSION=3.3.0
MMACTION_VERSION=1.2.0

log() { printf '[install] %s\n' "$*"; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtual environment $VENV"
  "${PYTHON:-python3}" -m venv "$VENV"
fi
PY="$VENV/bin/python"
pip_install() {
  # Filtered out: pip's warning about local package indexes listed in this machine's pip config
  # that do not exist. Every other message is kept.
  "$PY" -m pip install --quiet --disable-pip-version-check "$@" 2>&1 \
    | { grep -v -e "is ignored: it is neither a file nor a directory" || true; }
  return "${PIPESTATUS[0]}"
}
has_module() { "$PY" -c "import $1" >/dev/null 2>&1; }
dist_version() {
  "$PY" - "$1" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version
print(version(sys.argv[1]))
EOF
}

# 1. torch: keep whatever torch is installed (a CUDA build on GPU machines); otherwise take 2.13.0
#    (on the project's machines pip finds its CPU build locally).
if ! has_module torch; then
  log "installing torch==$TORCH_VERSION"
  pip_install "torch==$TORCH_VERSION"
fi

# 2. Build/runtime tools. mmcv 2.1.0's setup.py and mmengine 0.10.7 import pkg_resources,
#    which setuptools 81 removed.
if ! "$PY" -c "import pkg_resources, wheel" >/dev/null 2>&1; then
  log "installing setuptools<81 and wheel"
  pip_install "setuptools<81" wheel
fi

# 3. mmcv 2.1.0 with compiled ops (RoIAlign, nms, ...). PyPI has only its source release.
if [ "$(dist_version mmcv)" != "$MMCV_VERSION" ] || ! has_module mmcv._ext; then
  # mmcv's own Python dependencies (the build below uses --no-deps).
  pip_install "mmengine==$MMENGINE_VERSION" addict packaging Pillow pyyaml yapf "opencv-python>=4.5,<5"
  # A prebuilt wheel only fits the exact torch build and CPython it was compiled against.
  wheel_tag=$("$PY" - <<'EOF'
import sys, platform, torch
print(f"cp{sys.version_info.major}{sys.version_info.minor}-{platform.machine()}-torch{torch.__version__}")
EOF
)
  wheel="$WHEEL_DIR/mmcv-$MMCV_VERSION-cp311-cp311-linux_x86_64.whl"
  if [ -f "$wheel" ] && [ "$wheel_tag" = "cp311-x86_64-torch2.13.0+cpu" ]; then
    log "installing prebuilt $wheel"
    pip_install --no-deps "$wheel"
  else
    log "building mmcv==$MMCV_VERSION with ops from source for $wheel_tag (about 12 min on 2 cores)"
    pip_install ninja
    MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
      pip_install --no-build-isolation --no-deps "mmcv==$MMCV_VERSION"
  fi
  if ! has_module mmcv._ext; then
    echo "mmcv $MMCV_VERSION was installed without its compiled ops (mmcv._ext)." >&2
    echo "Rebuild it: MMCV_WITH_OPS=1 pip install --no-build-isolation --no-deps --force-reinstall mmcv==$MMCV_VERSION" >&2
    exit 1
  fi
fi

# 4. mmdet and mmaction2 at the tested versions. mmaction2 declares opencv-contrib-python next to
#    mmengine's opencv-python; both install the same cv2 package, so opencv-contrib-python is
#    pinned to the installed opencv-python version (one consistent cv2 build, and `pip check`
#    is clean). decord is mmaction2's video reader (mmevad reads frames).
if [ "$(dist_version mmdet)" != "$MMDET_VERSION" ]; then
  log "installing mmdet==$MMDET_VERSION"
  pip_install "mmdet==$MMDET_VERSION"
fi
if [ "$(dist_version mmaction2)" != "$MMACTION_VERSION" ]; then
  log "installing mmaction2==$MMACTION_VERSION"
  pip_install --no-deps "mmaction2==$MMACTION_VERSION"
fi
cv_version=$(dist_version opencv-python || true)
if [ -z "$(dist_version decord)" ] || [ -z "$(dist_version einops)" ] \
    || [ "$(dist_version opencv-contrib-python)" != "$cv_version" ]; then
  log "installing mmaction2's declared decord, einops and opencv-contrib-python${cv_version:+==$cv_version}"
  pip_install decord einops "opencv-contrib-python${cv_version:+==$cv_version}"
fi

# 5. mmevad (editable) with the remaining runtime and test requirements. Re-run only when the
#    requirement files or setup.py changed since the last successful install.
stamp="$VENV/.mmevad-install-stamp"
want=$(cat "$ROOT/setup.py" "$ROOT"/requirements/*.txt | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || ! has_module mmevad; then
  log "installing mmevad (editable) with its test and deploy (ONNX) requirements"
  # the OpenMMLab packages are in place at their tested versions (steps 1-4), which satisfy
  # the ranges of requirements/runtime.txt, so this adds only the remaining requirements
  pip_install -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt" \
    -r "$ROOT/requirements/deploy.txt"
  pip_install --no-deps --no-build-isolation -e "$ROOT"
  echo "$want" > "$stamp"
fi

"$PY" -c "import mmevad, mmcv.ops; print('[install] ready: mmevad', mmevad.__version__, 'in $VENV')"
