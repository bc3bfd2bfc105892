"""The synthetic AVA dataset flows through mmaction2's real AVADataset and AVAMetric."""
import csv
import hashlib
import importlib.util
import multiprocessing.dummy
import os
import os.path as osp
import pickle
import re
from collections import defaultdict

import numpy as np
import pytest
import torch
from _utils import ROOT
from mmaction.datasets import AVADataset
from mmaction.datasets.transforms import loading as mmaction_loading
from mmaction.evaluation import AVAMetric, read_labelmap
from mmaction.evaluation.functional import ava_utils
from mmaction.registry import TRANSFORMS

from mmevad.datasets import (CLASS_IDS, SceneConfig, generate_synthetic_ava,
                             ground_truth_as_predictions)
from mmevad.datasets.synthetic_ava.scene import FIRST_KEYFRAME, num_frames

SMALL = dict(num_train_videos=1, num_val_videos=1, seconds=3, height=64, width=80)
CSV_ROW = re.compile(r'^synth_(train|val)_\d{3},\d{4},(0|1)\.\d{3},(0|1)\.\d{3},(0|1)\.\d{3},'
                     r'(0|1)\.\d{3},\d+,\d+$')
VAL_PIPELINE = [
    dict(type='SampleAVAFrames', clip_len=16, frame_interval=4, test_mode=True),
    dict(type='RawFrameDecode'),
    dict(type='Resize', scale=(-1, 64)),
    dict(type='FormatShape', input_format='NCTHW', collapse=True),
    dict(type='PackActionInputs')
]


def read_gt(ann_file):
    """{(video_id, timestamp): {box tuple: set(labels)}} from an AVA CSV."""
    gt = defaultdict(lambda: defaultdict(set))
    with open(ann_file) as f:
        for row in csv.reader(f):
            gt[(row[0], int(row[1]))][tuple(float(v) for v in row[2:6])].add(int(row[6]))
    return gt


def make_dataset(data, split='val', pipeline=VAL_PIPELINE, **kwargs):
    return AVADataset(
        ann_file=getattr(data, f'ann_file_{split}'),
        exclude_file=getattr(data, f'exclude_file_{split}'),
        label_file=data.label_file,
        pipeline=pipeline,
        data_prefix=dict(img=data.data_root),
        test_mode=split == 'val',
        **kwargs)


def tree_digest(root):
    """sha256 of every file under root, by relative path."""
    digests = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                digests[osp.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return digests


def test_files_follow_the_ava_layout(synthetic_ava):
    data = synthetic_ava
    n_frames = num_frames(4)
    for video_id in data.train_video_ids + data.val_video_ids:
        files = sorted(os.listdir(osp.join(data.data_root, video_id)))
        assert files == [f'img_{k:05d}.jpg' for k in range(1, n_frames + 1)]
    assert not set(data.train_video_ids) & set(data.val_video_ids)

    labelmap, class_ids = read_labelmap(open(data.label_file))
    assert class_ids == set(CLASS_IDS) == {7, 10, 12, 14, 69}
    assert {d['id']: d['name'] for d in labelmap}[69] == 'hand wave'

    for split in ('train', 'val'):
        videos = getattr(data, f'{split}_video_ids')
        with open(getattr(data, f'ann_file_{split}')) as f:
            lines = f.read().splitlines()
        assert lines and all(CSV_ROW.match(line) for line in lines), lines[:3]
        gt = read_gt(getattr(data, f'ann_file_{split}'))
        with open(getattr(data, f'exclude_file_{split}')) as f:
            excluded = {(v, int(t)) for v, t in csv.reader(f)}
        assert excluded, 'every video of 3 s or more has an excluded keyframe'
        # AVAMetric counts GT rows of excluded keys as misses: they must have none
        assert not excluded & set(gt)
        all_keys = {(v, t) for v in videos for t in range(FIRST_KEYFRAME, FIRST_KEYFRAME + 4)}
        assert set(gt) | excluded == all_keys
        for boxes in gt.values():
            for (x1, y1, x2, y2), labels in boxes.items():
                assert 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1
                assert len(labels & {7, 10, 12, 14}) == 1 and labels <= set(CLASS_IDS)
                assert 69 not in labels or labels & {12, 14}, 'waving only while stand/walk'

        with open(getattr(data, f'proposal_file_{split}'), 'rb') as f:
            proposals = pickle.load(f)
        assert set(proposals) == {f'{v},{t:04d}' for v, t in all_keys}
        for key, props in proposals.items():
            assert props.dtype == np.float32 and props.shape[1] == 5
            assert (props[:, :4] >= 0).all() and (props[:, :4] <= 1).all()
            assert (props[:, 2:4] > props[:, :2]).all()
            assert (np.diff(props[:, 4]) <= 0).all()
            video_id, ts = key.split(',')
            n_gt = len(gt.get((video_id, int(ts)), {}))
            assert (props[:, 4] >= 0.9).sum() >= n_gt  # every person has a confident proposal


def test_ava_dataset_loads_every_sample(synthetic_ava):
    data = synthetic_ava
    gt = read_gt(data.ann_file_val)
    dataset = make_dataset(data, 'val', proposal_file=None)
    assert len(dataset) == len(gt)
    for i in range(len(dataset)):
        sample = dataset[i]
        meta = sample['data_samples'].metainfo
        inputs = sample['inputs']
        h, w = meta['img_shape']
        assert inputs.shape == (3, 16, h, w) and h == 64
        boxes = gt[(meta['video_id'], meta['timestamp'])]
        expected = torch.tensor(list(boxes), dtype=torch.float32) * torch.tensor([w, h, w, h])
        gt_instances = sample['data_samples'].gt_instances
        torch.testing.assert_close(gt_instances.bboxes, expected, atol=1e-3, rtol=0)
        labels = [sorted(torch.nonzero(row).flatten().tolist()) for row in gt_instances.labels]
        assert labels == [sorted(v) for v in boxes.values()]


def test_ava_dataset_train_mode_with_proposals(synthetic_ava):
    pipeline = [
        dict(type='SampleAVAFrames', clip_len=16, frame_interval=4),
        dict(type='RawFrameDecode'),
        dict(type='RandomRescale', scale_range=(64, 80)),
        dict(type='RandomCrop', size=64),
        dict(type='Flip', flip_ratio=0.5),
        dict(type='FormatShape', input_format='NCTHW', collapse=True),
        dict(type='PackActionInputs')
    ]
    dataset = make_dataset(synthetic_ava, 'train', pipeline, proposal_file=(
        synthetic_ava.proposal_file_train))
    assert len(dataset) == len(read_gt(synthetic_ava.ann_file_train))
    sample = dataset[0]
    assert sample['inputs'].shape == (3, 16, 64, 64)
    assert len(sample['data_samples'].proposals.bboxes) >= 1


@pytest.mark.parametrize('extreme', ['low', 'high'])
def test_every_frame_sample_ava_frames_can_read_exists(synthetic_ava, monkeypatch, extreme):
    """SampleAVAFrames(16, 4) reads keyframe -34 .. +29 frames (training jitter included) at the
    first and last keyframe: all of them must exist, none may be clipped away."""

    def randint(low, high, size):  # the most extreme jitter mmaction can draw
        return np.full(size, low if extreme == 'low' else high - 1)

    monkeypatch.setattr(mmaction_loading.np.random, 'randint', randint)
    sampler = TRANSFORMS.build(dict(type='SampleAVAFrames', clip_len=16, frame_interval=4))
    info = make_dataset(synthetic_ava, 'train', pipeline=[]).get_data_info(0)
    n_frames = num_frames(4)
    for timestamp in (FIRST_KEYFRAME, FIRST_KEYFRAME + 3):
        inds = sampler(dict(info, timestamp=timestamp))['frame_inds']
        assert len(np.unique(inds)) == 16  # nothing clipped at the shot borders
        assert inds.min() >= 1 and inds.max() <= n_frames
        for k in (inds.min(), inds.max()):
            assert osp.isfile(osp.join(info['frame_dir'], f'img_{k:05d}.jpg'))
    assert inds.max() == (n_frames if extreme == 'high' else n_frames - 3)


def gt_predictions(data, shift_every_other=False, **dataset_kwargs):
    """Data samples that predict the val ground truth (scores 1.0 on the GT classes)."""
    samples = ground_truth_as_predictions(make_dataset(data, 'val', pipeline=[], **dataset_kwargs))
    if shift_every_other:  # move every other box by its width: IoU with its GT is 0
        for sample in samples:
            boxes = sample['pred_instances']['bboxes']
            boxes[::2, [0, 2]] += (boxes[::2, 2] - boxes[::2, 0])[:, None]
    return samples


def run_ava_metric(data, samples, **metric_kwargs):
    metric = AVAMetric(
        ann_file=data.ann_file_val,
        exclude_file=data.exclude_file_val,
        label_file=data.label_file,
        action_thr=0.0,
        **metric_kwargs)
    metric.process([], samples)
    return metric.evaluate(len(samples))


# all 80 AVA columns, or only the 5 used ones (custom_classes: a 6-wide score matrix)
@pytest.mark.parametrize('classes', [{}, dict(custom_classes=list(CLASS_IDS), num_classes=6)])
def test_ava_metric_scores_ground_truth_as_perfect(synthetic_ava, tmp_path, monkeypatch, classes):
    monkeypatch.chdir(tmp_path)  # AVAMetric writes a temporary CSV into the working directory
    # ava_eval forks a 32-process pool (never closed) per call; threads compute the same, faster
    monkeypatch.setattr(ava_utils.multiprocessing, 'Pool', multiprocessing.dummy.Pool)
    samples = gt_predictions(synthetic_ava, **classes)
    assert samples[0]['pred_instances']['scores'].shape[1] == classes.get('num_classes', 81)
    perfect = run_ava_metric(synthetic_ava, samples, **classes)
    assert perfect['mAP/overall'] == pytest.approx(1.0)
    shifted = run_ava_metric(synthetic_ava, gt_predictions(synthetic_ava, True, **classes),
                             **classes)
    assert shifted['mAP/overall'] < 0.9


def test_same_seed_same_bytes_other_seed_other_data(synthetic_ava, tmp_path):
    first = generate_synthetic_ava(str(tmp_path / 'a'), seed=3, **SMALL)
    second = generate_synthetic_ava(str(tmp_path / 'b'), seed=3, **SMALL)
    other = generate_synthetic_ava(str(tmp_path / 'c'), seed=4, **SMALL)
    digest = tree_digest(first.root)
    assert len(digest) == 2 * num_frames(3) + 8  # frames + 7 annotation files + metadata
    assert digest == tree_digest(second.root)
    other_digest = tree_digest(other.root)
    assert other_digest.keys() == digest.keys()
    differing = {k for k in digest if digest[k] != other_digest[k]}
    assert 'annotations/ava_train_v2.2.csv' in differing
    assert len(differing) > len(digest) // 2


def test_more_training_videos_leave_validation_unchanged(tmp_path):
    small = generate_synthetic_ava(str(tmp_path / 'a'), **SMALL)
    more = generate_synthetic_ava(str(tmp_path / 'b'), **dict(SMALL, num_train_videos=2))
    small_digest, more_digest = tree_digest(small.root), tree_digest(more.root)
    val_files = [k for k in small_digest if 'val' in k]
    assert len(val_files) == num_frames(3) + 3  # frames, CSV, exclusions, proposals
    assert all(small_digest[k] == more_digest[k] for k in val_files)
    assert small_digest['annotations/ava_train_v2.2.csv'] != more_digest[
        'annotations/ava_train_v2.2.csv']


def test_regenerating_into_the_same_directory_replaces_it(tmp_path):
    out = str(tmp_path / 'data')
    generate_synthetic_ava(out, **dict(SMALL, seconds=4))
    data = generate_synthetic_ava(out, **SMALL, with_proposals=False)
    frames = os.listdir(osp.join(data.data_root, data.train_video_ids[0]))
    assert len(frames) == num_frames(3)  # no stale frames from the 4 s run
    assert data.proposal_file_train is None
    assert not any(name.endswith('.pkl') for name in os.listdir(osp.dirname(data.label_file)))


def test_cli_writes_the_dataset(tmp_path, capsys):
    path = osp.join(ROOT, 'tools', 'data', 'generate_synthetic_ava.py')
    spec = importlib.util.spec_from_file_location('generate_synthetic_ava_cli', path)
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    out = str(tmp_path / 'cli')
    data = cli.main([out, '--num-train-videos', '1', '--num-val-videos', '1', '--seconds', '2',
                     '--height', '48', '--width', '64', '--seed', '1', '--no-proposals'])
    printed = capsys.readouterr().out
    assert data.ann_file_val in printed and 'label map' in printed
    assert data.proposal_file_val is None
    assert len(os.listdir(osp.join(out, 'rawframes', 'synth_val_000'))) == num_frames(2)


@pytest.mark.parametrize('kwargs, error, match', [
    (dict(num_train_videos=0), ValueError, 'num_train_videos must be >= 1'),
    (dict(seconds=2.5), TypeError, 'seconds must be an int'),
    (dict(height=32), ValueError, 'height must be >= 48'),
    (dict(seed=-1), ValueError, 'seed must be >= 0'),
    (dict(jpeg_quality=101), ValueError, 'jpeg_quality must be <= 100'),
    (dict(scene_config=SceneConfig(movement_probs=(1, 1, 0, 0))), ValueError, 'movement_probs'),
    (dict(scene_config=SceneConfig(segment_seconds=(1, 3))), ValueError, 'segment_seconds'),
])
def test_bad_arguments_are_refused(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        generate_synthetic_ava(str(tmp_path / 'x'), **{**SMALL, **kwargs})


def test_refuses_a_directory_it_did_not_write(tmp_path):
    (tmp_path / 'notes.txt').write_text('mine')
    with pytest.raises(ValueError, match='not empty and holds no synthetic_ava.json'):
        generate_synthetic_ava(str(tmp_path), **SMALL)
    assert (tmp_path / 'notes.txt').read_text() == 'mine'
