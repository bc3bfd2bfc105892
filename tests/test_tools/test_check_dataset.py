"""tools/analysis_tools/check_dataset.py on the synthetic data and on a damaged copy of it."""
import importlib.util
import os
import os.path as osp
import pickle
import shutil
import sys
from unittest import mock

import pytest

from .conftest import EVAD_TINY, ROOT

TOOL = osp.join(ROOT, 'tools', 'analysis_tools', 'check_dataset.py')


def run_check(*args, cwd):
    """``main()`` of the tool in this process; returns (exit status, printed text)."""
    spec = importlib.util.spec_from_file_location('check_dataset', TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    printed = []
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with mock.patch.object(sys, 'argv', ['check_dataset.py', *map(str, args)]), \
                mock.patch('builtins.print', lambda *a, **k: printed.append(' '.join(map(str, a)))):
            status = tool.main()
    finally:
        os.chdir(old)
    return status, '\n'.join(printed)


@pytest.mark.parametrize('split', ['train', 'val'])
def test_clean_synthetic_data_passes(synthetic_workspace, split):
    status, out = run_check(EVAD_TINY, '--split', split, cwd=synthetic_workspace)
    assert status == 0, out
    assert 'dataset check passed' in out and 'ERRORS' not in out
    assert ' 0 decoded' not in out


@pytest.fixture
def damaged_workspace(synthetic_ava, tmp_path):
    """A working directory whose data/synthetic_ava is a damaged copy of the session's data."""
    root = tmp_path / 'data' / 'synthetic_ava'
    shutil.copytree(synthetic_ava.root, root)
    ann = root / 'annotations' / 'ava_train_v2.2.csv'
    lines = ann.read_text().splitlines()
    cols = lines[0].split(',')
    cols[2], cols[4] = cols[4], cols[2]  # x1 > x2
    lines[0] = ','.join(cols)
    cols = lines[1].split(',')
    cols[6] = '99'  # an action id beyond AVA's 81 columns
    lines[1] = ','.join(cols)
    lines.append('synth_train_000,0903,0.1,0.2')  # too few columns
    ann.write_text('\n'.join(lines) + '\n')
    # the tiny config's clips: 4 frames at stride 8, keyframe third (files k - 16 .. k + 8)
    first, second = synthetic_ava.train_video_ids
    key = (int(lines[2].split(',')[1]) - 900) * 30 + 1  # a keyframe of the first video
    video = root / 'rawframes' / first
    (video / f'img_{key:05d}.jpg').write_bytes((video / f'img_{key:05d}.jpg').read_bytes()[:500])
    data = (video / f'img_{key + 8:05d}.jpg').read_bytes()
    (video / f'img_{key + 8:05d}.jpg').write_bytes(data[:len(data) - 40] + b'\xff\xd9')
    last = max(int(line.split(',')[1]) for line in lines if line.startswith(second))
    for name in os.listdir(root / 'rawframes' / second):  # ends before its last clip does
        if int(name[4:9]) > (last - 900) * 30 + 1:
            os.remove(root / 'rawframes' / second / name)
    proposals = root / 'annotations' / 'ava_dense_proposals_train.synthetic.pkl'
    with open(proposals, 'rb') as f:
        props = pickle.load(f)
    props.pop(f'{synthetic_ava.train_video_ids[1]},0903')
    with open(proposals, 'wb') as f:
        pickle.dump(props, f)
    return tmp_path, synthetic_ava, key


def test_damaged_data_fails_naming_files_and_rows(damaged_workspace):
    workspace, data, key = damaged_workspace
    proposal_file = 'data/synthetic_ava/annotations/ava_dense_proposals_train.synthetic.pkl'
    status, out = run_check(
        EVAD_TINY, '--split', 'train', '--cfg-options',
        f'train_dataloader.dataset.proposal_file={proposal_file}', cwd=workspace)
    assert status == 1, out
    assert 'dataset check FAILED' in out
    csv = 'data/synthetic_ava/annotations/ava_train_v2.2.csv'
    assert f'{csv}, line 2 ' in out and 'action id 99 but the dataset has num_classes=81' in out
    assert f'{csv}, line 23 ' in out and '4 columns, expected 8' in out
    assert 'inverted boxes: 1' in out and f'{csv}, line 1: box' in out
    first, second = data.train_video_ids
    assert f'rawframes/{first}/img_{key:05d}.jpg: truncated' in out
    assert f'rawframes/{first}/img_{key + 8:05d}.jpg: corrupt data inside the file' in out
    assert f'rawframes/{second}: ' in out and 'frames the clips need are missing' in out
    assert f"no entry '{second},0903'" in out


def test_ids_outside_the_label_map_are_a_warning_only(synthetic_workspace, tmp_path):
    label_file = tmp_path / 'four_classes.pbtxt'
    from mmevad.datasets import label_map_text
    label_file.write_text(label_map_text((7, 10, 12, 14)))
    status, out = run_check(EVAD_TINY, '--split', 'val', '--frames', 'none', '--cfg-options',
                            f'val_dataloader.dataset.label_file={label_file}',
                            cwd=synthetic_workspace)
    assert status == 0, out
    assert 'ids not in the label map' in out and 'action id 69' in out
