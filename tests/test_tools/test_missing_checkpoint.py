"""Every tool that reads a checkpoint stops on a missing file with its name and where
checkpoints come from, without a traceback and before it builds the model or reads the data
(``mmevad.utils.checkpoint_from_args``)."""
import os.path as osp
import subprocess
import sys

import pytest

from .conftest import EVAD_TINY, ROOT

TOOLS = [
    ('test.py', [EVAD_TINY, 'missing.pth']),
    ('demo/demo_video.py', [EVAD_TINY, 'missing.pth', 'missing.mp4', 'out.mp4']),
    ('analysis_tools/analyze_detection_errors.py', [EVAD_TINY, 'missing.pth']),
    ('analysis_tools/visualize_keyframe.py', [EVAD_TINY, 'missing.pth', '--out-dir', 'vis']),
    ('deployment/export_onnx.py', [EVAD_TINY, 'missing.pth', 'out.onnx']),
]


@pytest.mark.parametrize('tool, arguments', TOOLS, ids=[tool for tool, _ in TOOLS])
def test_a_missing_checkpoint_stops_the_tool_with_its_name(tool, arguments, tmp_path):
    done = subprocess.run([sys.executable, osp.join(ROOT, 'tools', tool), *arguments],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "error: checkpoint 'missing.pth' does not exist: pass a .pth file saved by " \
        'tools/train.py' in done.stderr
    assert 'Traceback' not in done.stderr
    assert not list(tmp_path.iterdir())  # nothing was written (no work_dir, no output)
