"""tools/analysis_tools/analyze_detection_errors.py on a briefly trained tiny EVAD."""
import importlib.util
import os.path as osp
import re

import torch
from mmengine.structures import InstanceData

from .conftest import EVAD_TINY, ROOT, run_tool

LOADERS = ['train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
           'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
           'val_dataloader.persistent_workers=False']


def annotated_keyframes(root, split):
    """(video, timestamp) pairs with ground truth in ``root``'s ``split``, exclusions removed."""
    def rows(name):
        with open(osp.join(root, 'annotations', name)) as f:
            return {tuple(line.split(',')[:2]) for line in f.read().split()}
    return len(rows(f'ava_{split}_v2.2.csv') - rows(f'ava_{split}_excluded_timestamps_v2.2.csv'))


def keyframes_in(log, split):
    (count, ) = re.findall(rf'{split}: (\d+) keyframes', log)
    return int(count)


def test_reports_model_person_and_oracle_numbers_for_both_splits(synthetic_workspace, tmp_path):
    work_dir = synthetic_workspace / 'work_dir'
    run_tool('train.py', EVAD_TINY, '--work-dir', work_dir, '--cfg-options',
             'train_cfg.max_iters=2', 'train_cfg.val_interval=2', *LOADERS,
             cwd=synthetic_workspace)
    log = run_tool('analysis_tools/analyze_detection_errors.py', EVAD_TINY,
                   work_dir / 'iter_2.pth', '--thresholds', '0.7', '0.0', '--cfg-options',
                   *LOADERS, cwd=synthetic_workspace)
    for split in ('val', 'train'):
        maps = re.findall(rf'{split}: mAP ([0-9.]+) \(person_score_thr (\S+)\), '
                          r'person AP@0.5 ([0-9.]+)', log)
        assert [thr for _, thr, _ in maps] == ['0.7', '0']
        oracle = re.findall(rf'{split}: oracle-box mAP ([0-9.]+)', log)
        assert len(oracle) == 1
        assert all(0 <= float(v) <= 1 for row in maps for v in (row[0], row[2]))
        assert 0 <= float(oracle[0]) <= 1
        (loose, strict), = re.findall(
            rf'{split}: person AP@0.3 ([0-9.]+), AP@0.7 ([0-9.]+)', log)
        assert 1 >= float(loose) >= float(maps[0][2]) >= float(strict) >= 0
    default_root = synthetic_workspace / 'data' / 'synthetic_ava'
    for split in ('val', 'train'):
        assert keyframes_in(log, split) == annotated_keyframes(default_root, split)

    # the val split of another root: 2 validation videos, the first of them the same
    from mmevad.datasets import generate_synthetic_ava
    bigger = generate_synthetic_ava(str(tmp_path / 'val2'), num_train_videos=1,
                                    num_val_videos=2, seconds=4, height=96, width=128, seed=0)
    log = run_tool('analysis_tools/analyze_detection_errors.py', EVAD_TINY,
                   work_dir / 'iter_2.pth', '--splits', 'val', '--val-data-root', bigger.root,
                   '--device', 'cpu', '--cfg-options', *LOADERS, cwd=synthetic_workspace)
    assert keyframes_in(log, 'val') == annotated_keyframes(bigger.root, 'val')
    assert annotated_keyframes(bigger.root, 'val') > annotated_keyframes(default_root, 'val')


def test_oracle_proposals_are_the_annotated_boxes():
    spec_path = osp.join(ROOT, 'tools/analysis_tools/analyze_detection_errors.py')
    spec = importlib.util.spec_from_file_location('analyze_detection_errors', spec_path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)

    class Sample:
        gt_instances = InstanceData(bboxes=torch.tensor([[1., 2., 30., 40.], [5, 5, 9, 9]]))

    (proposals, ) = tool.ground_truth_proposals([Sample()])
    assert torch.equal(proposals.bboxes, Sample.gt_instances.bboxes)
    assert torch.equal(proposals.scores, torch.ones(2))
