import os
import os.path as osp
import re
import subprocess
import sys

import pytest
from _utils import EVAD_TINY, ROOT  # noqa: F401 (the tool tests import both from here)


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


# Training of the demo fixture: the quickstart config on one synthetic training video of 4 s
# (4 annotated keyframes), long enough for its boxes to land on the figures of that video.
DEMO_TRAIN_ITERS = 300


@pytest.fixture(scope='session')
def trained_tiny_evad(tmp_path_factory):
    """A tiny EVAD trained once per test session (``tools/train.py``, the quickstart config,
    ``DEMO_TRAIN_ITERS`` iterations of 4 clips) on one synthetic training video; returns the
    workspace, the dataset (:class:`mmevad.datasets.SyntheticAVAFiles`) and the checkpoint."""
    from mmevad.datasets import generate_synthetic_ava
    workspace = tmp_path_factory.mktemp('trained_tiny_evad')
    data = generate_synthetic_ava(
        str(workspace / 'data' / 'synthetic_ava'), num_train_videos=1, num_val_videos=1,
        seconds=4, height=96, width=128, seed=0, with_proposals=False)
    iters = DEMO_TRAIN_ITERS
    run_tool('train.py', EVAD_TINY, '--work-dir', workspace / 'work_dir', '--cfg-options',
             f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters * 100}',
             'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
             'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
             'val_dataloader.persistent_workers=False',
             f'default_hooks.checkpoint.interval={iters}',
             f'param_scheduler.1.milestones=[{int(iters * 0.8)}]', f'param_scheduler.1.end={iters}',
             cwd=workspace, timeout=1800)  # generous: a shared machine slows training down
    checkpoint = workspace / 'work_dir' / f'iter_{iters}.pth'
    assert checkpoint.is_file()
    return dict(workspace=workspace, data=data, checkpoint=checkpoint)
