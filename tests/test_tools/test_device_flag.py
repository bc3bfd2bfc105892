"""Every tool with ``--device`` stops on a GPU that is not there, with the reason and the fix
and without a traceback, before it builds a model (``mmevad.utils.device_from_args``)."""
import os.path as osp
import subprocess
import sys

import pytest

from .conftest import EVAD_TINY, ROOT

# (tool, its positional arguments); a device index no machine has, so the run fails on a GPU
# machine too, there with the number of visible GPUs as the reason
TOOLS = [
    ('demo/demo_video.py', [EVAD_TINY, 'missing.pth', 'missing.mp4', 'out.mp4']),
    ('analysis_tools/analyze_detection_errors.py', [EVAD_TINY, 'missing.pth']),
    ('analysis_tools/visualize_keyframe.py', [EVAD_TINY, 'missing.pth', '--out-dir', 'vis']),
    ('analysis_tools/benchmark_detector.py', [EVAD_TINY]),
    ('analysis_tools/benchmark_backbone.py', [EVAD_TINY]),
    ('analysis_tools/benchmark_inference.py', [EVAD_TINY]),
]


@pytest.mark.parametrize('tool, arguments', TOOLS, ids=[tool for tool, _ in TOOLS])
def test_a_missing_gpu_stops_the_tool_with_its_reason(tool, arguments, tmp_path):
    done = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', tool), *arguments, '--device', 'cuda:99'],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "error: --device: device 'cuda:99' was asked for, but" in done.stderr
    assert 'Traceback' not in done.stderr
    assert not list(tmp_path.iterdir())  # nothing was written
