"""docs/custom_dataset.md: its worked example runs as written (synthetic tube data -> converter
-> ground-truth check -> tools/train.py -> tools/test.py) and reports frame-mAP and video-mAP."""
import os.path as osp
import re
import shlex

import pytest

from .conftest import ROOT, run_tool

DOC = osp.join(ROOT, 'docs', 'custom_dataset.md')
METRICS = ('mAP/frameAP', 'mAP/v_map@0.2', 'mAP/v_map@0.5')


def worked_example_commands():
    """The commands of the bash block after the ``<!-- worked-example -->`` marker."""
    with open(DOC) as f:
        text = f.read()
    block = re.search(r'<!-- worked-example -->\s*```bash\n(.*?)```', text, re.S).group(1)
    return [shlex.split(cmd) for cmd in block.replace('\\\n', ' ').splitlines() if cmd.strip()]


def logged(log, key):
    return [float(v) for v in re.findall(re.escape(key) + r': ([0-9.]+)', log)]


def test_worked_example_runs_as_written(tmp_path):
    commands = worked_example_commands()
    assert [c[1] for c in commands] == [
        'tools/data/generate_synthetic_tubes.py', 'tools/data/tubes_to_ava.py',
        'tools/analysis_tools/eval_ground_truth.py', 'tools/train.py', 'tools/test.py'
    ]
    logs = []
    for python, tool, *args in commands:
        assert python == 'python'
        # configs are found in the repository; data and work dirs land in the temporary cwd
        args = [osp.join(ROOT, a) if a.startswith('configs/') else a for a in args]
        logs.append(run_tool(tool[len('tools/'):], *args, cwd=tmp_path))
    generate, convert, ground_truth, train, test = logs

    assert '2 train, 1 test' in generate
    assert (tmp_path / 'data/synthetic_tubes/annotations/synthetic_tubes_val.csv').is_file()
    assert 'label map (4 classes' in convert
    for key in METRICS:
        assert logged(ground_truth, key) == [100.0]
    val = [logged(train, key) for key in METRICS]
    assert all(len(v) == 1 for v in val), train[-3000:]
    assert (tmp_path / 'work_dirs/tubes_demo/iter_2.pth').is_file()
    # the saved checkpoint reproduces the validation metrics
    assert [logged(test, key) for key in METRICS] == [pytest.approx(v, abs=1e-4) for v in val]
