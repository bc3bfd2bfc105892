"""tools/train.py and tools/test.py round trip with a stock MMAction2 detector config."""
import os.path as osp
import subprocess
import sys

import pytest
import torch

from .conftest import EVAD_TINY, ROOT, logged_metric, run_tool

FASTRCNN_TINY = osp.join(ROOT, 'configs/videomae/'
                         'vit-tiny-p16_fastrcnn_1xb4-8x4x1-2e_synthetic-ava-rgb.py')


def test_train_then_test_then_resume(synthetic_workspace):
    work_dir = synthetic_workspace / 'work_dir'
    log = run_tool('train.py', FASTRCNN_TINY, '--work-dir', work_dir,
                   '--cfg-options', 'train_cfg.max_epochs=1', cwd=synthetic_workspace)
    (val_map, ) = logged_metric(log)
    assert (work_dir / 'epoch_1.pth').is_file()

    # the saved Runner checkpoint loads (compat: weights_only) and reproduces the val mAP
    log = run_tool('test.py', FASTRCNN_TINY, work_dir / 'epoch_1.pth', '--work-dir', work_dir,
                   '--dump', work_dir / 'preds.pkl', cwd=synthetic_workspace)
    assert logged_metric(log) == [val_map]
    assert (work_dir / 'preds.pkl').is_file()

    # --resume continues from the saved epoch instead of starting over
    log = run_tool('train.py', FASTRCNN_TINY, '--work-dir', work_dir, '--resume',
                   work_dir / 'epoch_1.pth', '--cfg-options', 'train_cfg.max_epochs=2',
                   cwd=synthetic_workspace)
    assert 'resumed epoch: 1' in log
    assert 'Epoch(train) [1]' not in log and 'Epoch(train) [2]' in log
    assert (work_dir / 'epoch_2.pth').is_file()


def test_evad_train_then_test_then_resume(synthetic_workspace):
    """The tiny EVAD config (iteration based, as the quickstart runs it) through the tools."""
    work_dir = synthetic_workspace / 'evad_work_dir'
    val_loader = ['val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False']
    short_run = ['train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
                 'train_dataloader.persistent_workers=False', 'default_hooks.logger.interval=1',
                 *val_loader]
    log = run_tool('train.py', EVAD_TINY, '--work-dir', work_dir, '--cfg-options',
                   'train_cfg.max_iters=3', 'train_cfg.val_interval=3', *short_run,
                   cwd=synthetic_workspace)
    (val_map, ) = logged_metric(log)
    assert (work_dir / 'iter_3.pth').is_file()

    log = run_tool('test.py', EVAD_TINY, work_dir / 'iter_3.pth', '--work-dir', work_dir,
                   '--cfg-options', *val_loader, cwd=synthetic_workspace)
    assert logged_metric(log) == pytest.approx([val_map], abs=1e-6, nan_ok=True)

    log = run_tool('train.py', EVAD_TINY, '--work-dir', work_dir, '--resume',
                   work_dir / 'iter_3.pth', '--cfg-options', 'train_cfg.max_iters=5',
                   'train_cfg.val_interval=5', *short_run, cwd=synthetic_workspace)
    assert 'resumed epoch: 0, iter: 3' in log
    assert 'Iter(train) [4/5]' in log or 'Iter(train) [5/5]' in log
    assert 'Iter(train) [1/5]' not in log
    assert (work_dir / 'iter_5.pth').is_file()


def test_amp_without_a_gpu_names_the_cause(tmp_path):
    # on CPU-only machines (CI) mmengine's AmpOptimWrapper cannot be built
    if torch.cuda.is_available():
        pytest.skip('this machine has a GPU: --amp is valid here')
    result = subprocess.run([sys.executable, f'{ROOT}/tools/train.py', EVAD_TINY, '--amp',
                             '--work-dir', str(tmp_path)],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode != 0
    assert '--amp trains with mmengine\'s AmpOptimWrapper, which needs a GPU' in result.stderr
    assert 'Drop --amp' in result.stderr
