"""tools/train.py and tools/test.py round trip with a stock MMAction2 detector config."""
import os.path as osp

from .conftest import ROOT, logged_metric, run_tool

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
