import os
import os.path as osp
import re
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# the tiny EVAD config of the quickstart (tools/quickstart.sh)
EVAD_TINY = osp.join(
    ROOT, 'configs', 'evad',
    'evad_vit-tiny-p8-stem-ktp0.7_scratch_1xb8-4x8x1-1900it_synthetic-ava-rgb.py')


@pytest.fixture
def synthetic_workspace(synthetic_ava, tmp_path):
    """A working directory where the configs' relative ``data/synthetic_ava`` is the session's
    small synthetic dataset."""
    os.makedirs(tmp_path / 'data')
    os.symlink(synthetic_ava.root, tmp_path / 'data' / 'synthetic_ava')
    return tmp_path


def run_tool(tool, *args, cwd, timeout=600):
    """Run ``tools/<tool>`` with this interpreter; fail with its output if it fails."""
    result = subprocess.run([sys.executable, osp.join(ROOT, 'tools', tool), *map(str, args)],
                            cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f'{tool} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}'
    return result.stdout + result.stderr


def logged_metric(log, key='mAP/overall'):
    """Values of ``key`` in an mmengine log, in order."""
    return [float(v) for v in re.findall(re.escape(key) + r': ([0-9.]+|nan)', log)]
