"""tools/dist_train.sh: two CPU processes (gloo) train EVAD on the synthetic data."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from .conftest import EVAD_TINY, ROOT, logged_metric


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU (gloo) path')
def test_two_cpu_processes_train_and_validate(synthetic_workspace):
    work_dir = synthetic_workspace / 'work_dir'
    env = dict(os.environ, PYTHON=sys.executable, PORT='29631', OMP_NUM_THREADS='1')
    result = subprocess.run(
        ['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), EVAD_TINY, '2', '--work-dir',
         str(work_dir), '--cfg-options', 'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
         'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
         'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
         'val_dataloader.persistent_workers=False'],
        cwd=synthetic_workspace, capture_output=True, text=True, timeout=600, env=env)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-5000:]
    assert log.count('distributed backend nccl -> gloo') == 2  # both ranks
    assert 'Distributed training: True' in log
    assert len(logged_metric(log)) == 1  # rank 0 evaluated once, on the gathered predictions
    assert (work_dir / 'iter_2.pth').is_file()
