"""Damaged copies of the synthetic AVA data through the dataset of our configs: every problem is a
clear error naming the file and row, or handled by the documented box rule and reported."""
import copy
import dataclasses
import os
import os.path as osp
import shutil
from unittest import mock

import numpy as np
import pytest
from _utils import ROOT
from mmaction.registry import DATASETS
from mmengine.config import Config
from mmengine.logging import MMLogger

SYNTHETIC_DATA = osp.join(ROOT, 'configs', '_base_', 'datasets', 'synthetic_ava.py')


def config_dataset(data, split, pipeline=None, **overrides):
    """The dataset our synthetic config builds for ``split``, with the given file paths."""
    cfg = Config.fromfile(SYNTHETIC_DATA)
    loader = cfg.train_dataloader if split == 'train' else cfg.val_dataloader
    dataset = copy.deepcopy(loader.dataset)
    dataset.update(ann_file=getattr(data, f'ann_file_{split}'),
                   exclude_file=getattr(data, f'exclude_file_{split}'),
                   label_file=data.label_file, data_prefix=dict(img=data.data_root),
                   pipeline=cfg.val_pipeline if pipeline is None else pipeline)
    dataset.update(overrides)
    return DATASETS.build(dataset)


def damaged_csv(data, tmp_path, split, edit):
    """A copy of the split's CSV with ``edit(lines) -> lines`` applied; returns its path."""
    with open(getattr(data, f'ann_file_{split}')) as f:
        lines = f.read().splitlines()
    path = str(tmp_path / f'ava_{split}_damaged.csv')
    with open(path, 'w') as f:
        f.write(''.join(line + '\n' for line in edit(lines)))
    return path


def with_box(line, box):
    cols = line.split(',')
    cols[2:6] = [str(v) for v in box]
    return ','.join(cols)


def gt_boxes(dataset):
    return {tuple(np.round(b, 3)) for i in range(len(dataset))
            for b in dataset.get_data_info(i)['gt_bboxes']}


def test_inverted_zero_area_and_outside_boxes_follow_the_rule_and_are_reported(
        synthetic_ava, tmp_path):
    """Row 'x1 > x2 or zero area' (training) and row 'a box outside [0, 1]'."""
    inverted, zero, outside = (0.6, 0.2, 0.4, 0.9), (0.3, 0.2, 0.3, 0.9), (-0.1, 0.2, 0.5, 1.2)
    lines = []

    def edit(rows):
        lines.extend(rows)
        return ([with_box(rows[0], inverted), with_box(rows[1], zero),
                 with_box(rows[2], outside), with_box(rows[3], ('nan', 0.1, 0.5, 0.5))] +
                rows[4:])

    ann_file = damaged_csv(synthetic_ava, tmp_path, 'train', edit)
    logger = MMLogger.get_current_instance()
    with mock.patch.object(logger, 'warning') as warning:
        dataset = config_dataset(synthetic_ava, 'train', ann_file=ann_file)
    boxes = gt_boxes(dataset)
    assert inverted not in boxes and zero not in boxes
    assert (0.0, 0.2, 0.5, 1.0) in boxes  # clipped to the frame
    assert not any(np.isnan(b).any() for b in boxes)
    report = dataset.box_report
    assert report.counts == {'inverted': 1, 'zero area': 1, 'outside the frame': 1,
                             'non-finite': 1}
    warning.assert_called_once()
    message = warning.call_args[0][0]
    assert ann_file in message
    for line_no, problem in [(1, 'inverted'), (2, 'zero area'), (3, 'outside the frame'),
                             (4, 'non-finite')]:
        assert f'line {line_no} ' in message and problem in message
    assert '1 outside the frame box rows clipped to the frame' in message


def test_box_report_is_repeated_every_training_epoch(synthetic_ava, tmp_path):
    """Our configs' DataReportHook logs the dataset's box report before each epoch."""
    from types import SimpleNamespace

    from mmaction.registry import HOOKS
    from mmengine.dataset import RepeatDataset
    runtime = Config.fromfile(osp.join(ROOT, 'configs', '_base_', 'default_runtime.py'))
    assert dict(type='DataReportHook') in runtime.custom_hooks
    ann_file = damaged_csv(synthetic_ava, tmp_path, 'train',
                           lambda rows: [with_box(rows[0], (0.5, 0.5, 0.5, 0.5))] + rows[1:])
    dataset = config_dataset(synthetic_ava, 'train', ann_file=ann_file)
    runner = SimpleNamespace(train_dataloader=SimpleNamespace(dataset=RepeatDataset(dataset, 2)),
                             logger=mock.Mock(), epoch=0)
    hook = HOOKS.build(dict(type='DataReportHook'))
    for runner.epoch in range(2):
        hook.before_train_epoch(runner)
    messages = [c[0][0] for c in runner.logger.warning.call_args_list]
    assert len(messages) == 2
    assert messages[1].startswith('epoch 2: ') and '1 zero area box rows dropped' in messages[1]
    assert 'line 1 ' in messages[1]


def test_clean_data_logs_no_box_report(synthetic_ava):
    logger = MMLogger.get_current_instance()
    with mock.patch.object(logger, 'warning') as warning:
        dataset = config_dataset(synthetic_ava, 'train')
    assert not dataset.box_report and not warning.called


def test_inverted_box_fails_test_mode_before_inference(synthetic_ava, tmp_path):
    """Row 'x1 > x2' at evaluation: AVAMetric would fail after the whole run, naming nothing."""
    ann_file = damaged_csv(synthetic_ava, tmp_path, 'val',
                           lambda rows: rows[:2] + [with_box(rows[2], (0.9, 0.1, 0.2, 0.5))] +
                           rows[3:])
    with pytest.raises(ValueError, match=r'ava_val_damaged.csv: .*1 inverted box rows dropped, '
                       r'e\.g\. line 3 .*AVAMetric .*fix these rows'):
        config_dataset(synthetic_ava, 'val', ann_file=ann_file)


def test_empty_annotation_csv_names_the_file(synthetic_ava, tmp_path):
    ann_file = damaged_csv(synthetic_ava, tmp_path, 'train', lambda rows: [])
    with pytest.raises(ValueError, match=r'annotation file .*ava_train_damaged.csv has no rows'):
        config_dataset(synthetic_ava, 'train', ann_file=ann_file)


@pytest.mark.parametrize('action_id, num_classes', [(81, 81), (75, 70)])
def test_action_id_beyond_the_label_columns_names_the_row(synthetic_ava, tmp_path, action_id,
                                                         num_classes):
    """Rows 'an action id >= the number of label columns' and 'a dataset num_classes smaller
    than an id' (mmaction: an IndexError naming no row)."""

    def edit(rows):
        cols = rows[4].split(',')
        cols[6] = str(action_id)
        return rows[:4] + [','.join(cols)] + rows[5:]

    ann_file = damaged_csv(synthetic_ava, tmp_path, 'train', edit)
    with pytest.raises(ValueError, match=rf'ava_train_damaged.csv, line 5 .*action id '
                       rf'{action_id} but the dataset has num_classes={num_classes}'):
        config_dataset(synthetic_ava, 'train', ann_file=ann_file, num_classes=num_classes)


@pytest.mark.parametrize('bad_row, match', [
    ('synth_train_000,0903,0.1,0.2,0.3', '5 columns, expected 8'),
    ('synth_train_000,09o3,0.1,0.2,0.3,0.4,12,1', 'not a number'),
])
def test_malformed_row_names_the_row(synthetic_ava, tmp_path, bad_row, match):
    ann_file = damaged_csv(synthetic_ava, tmp_path, 'train', lambda rows: rows[:6] + [bad_row])
    with pytest.raises(ValueError, match=rf'ava_train_damaged.csv, line 7 .*{match}'):
        config_dataset(synthetic_ava, 'train', ann_file=ann_file)


def damaged_frames(data, tmp_path, damage):
    """A copy of the frames where the keyframe of the first val sample is damaged by
    ``damage(bytes) -> bytes | None`` (None: the file is deleted). Returns (data, frame path,
    ``video_id,timestamp`` of the sample)."""
    info = config_dataset(data, 'val').get_data_info(0)
    root = str(tmp_path / 'rawframes')  # a copy of the one video damaged
    shutil.copytree(osp.join(data.data_root, info['video_id']), osp.join(root, info['video_id']))
    frame = osp.join(root, info['video_id'], f"img_{(info['timestamp'] - 900) * 30 + 1:05d}.jpg")
    with open(frame, 'rb') as f:
        content = damage(f.read())
    if content is None:
        os.remove(frame)
    else:
        with open(frame, 'wb') as f:
            f.write(content)
    sample = f"{info['video_id']},{info['timestamp']}"
    return dataclasses.replace(data, data_root=root), frame, sample


@pytest.mark.parametrize('damage, match', [
    (lambda b: b'', 'the file is empty'),
    (lambda b: b[:len(b) // 2], 'truncated'),
    (lambda b: bytes(range(256)) * 4, 'not a JPEG'),
    (lambda b: None, 'does not exist'),
])
def test_damaged_frame_names_the_file(synthetic_ava, tmp_path, damage, match):
    """Row 'a truncated / zero-byte / corrupt JPEG' (mmaction: an OpenCV assertion naming no
    file, or the frame used half grey)."""
    data, frame, sample = damaged_frames(synthetic_ava, tmp_path, damage)
    dataset = config_dataset(data, 'val')
    with pytest.raises(OSError, match=match) as info:
        dataset[0]
    assert frame in str(info.value) and sample in str(info.value)


def test_damage_inside_a_jpeg_is_found_by_strict_decoding(synthetic_ava, tmp_path):
    """Row 'corrupt mid-file: silently used': libjpeg decodes a file whose data was cut (end
    marker kept) with only a warning on stderr. Strict decoding turns it into an error."""
    data, frame, sample = damaged_frames(synthetic_ava, tmp_path,
                                         lambda b: b[:len(b) - 40] + b'\xff\xd9')
    cfg = Config.fromfile(SYNTHETIC_DATA)
    pipeline = copy.deepcopy(cfg.val_pipeline)
    assert pipeline[1].type == 'CheckedRawFrameDecode'
    pipeline[1].strict = True
    with pytest.raises(OSError, match=r'corrupt data inside the file \(Corrupt JPEG data') as info:
        config_dataset(data, 'val', pipeline=pipeline)[0]
    assert frame in str(info.value) and sample in str(info.value)


def _normalised(box, width, height):
    """A pixel box as the generator writes it in the CSV (clipped, normalised, 3 decimals)."""
    size = np.array([width, height] * 2, dtype=np.float64)
    return tuple(np.round(np.clip(box, 0, size) / size, 3))


@pytest.mark.parametrize('sampler, agrees', [('SampleAVAKeyframeClip', True),
                                             ('SampleAVAFrames', False)])
def test_loaded_keyframe_shows_the_annotated_persons(synthetic_ava, sampler, agrees):
    """AVA's keyframe of second t is frame (t - 900) * 30 + 1. The clip our configs load is
    centred on the frame whose drawn persons are exactly the annotated boxes; mmaction's
    SampleAVAFrames centres it on the next frame."""
    from mmevad.datasets import simulate_video
    from mmevad.datasets.synthetic_ava.render import render_frames

    cfg = Config.fromfile(SYNTHETIC_DATA)
    pipeline = copy.deepcopy(cfg.val_pipeline[:2])  # sampler, decode
    assert pipeline[0].type == 'SampleAVAKeyframeClip'
    pipeline[0].type = sampler
    dataset = config_dataset(synthetic_ava, 'train', pipeline=pipeline)
    video_id = synthetic_ava.train_video_ids[0]
    scene, figures, distractors = simulate_video(0, 'train', 0, 96, 128, 4)
    assert scene.video_id == video_id
    # per frame: the boxes of the persons as drawn (independent of any keyframe convention)
    drawn = [{_normalised(t.boxes[k], 128, 96) for t in figures}
             for k in range(len(figures[0].boxes))]
    rendered = np.stack([f[..., ::-1] for f in render_frames(scene, figures, distractors)])
    checked = 0
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        if info['video_id'] != video_id:
            continue
        annotated = {tuple(np.round(b, 3)) for b in info['gt_bboxes']}
        frames_with_these_persons = [k for k, boxes in enumerate(drawn) if annotated <= boxes]
        assert frames_with_these_persons, 'the generator drew every annotated box somewhere'
        sample = dataset[i]
        keyframe = sample['frame_inds'][len(sample['frame_inds']) // 2] - 1  # 0-based
        # the loaded pixels are that frame: closest to its rendering among all frames
        image = sample['imgs'][len(sample['imgs']) // 2].astype(np.float32)
        assert np.abs(rendered - image).mean(axis=(1, 2, 3)).argmin() == keyframe
        assert (keyframe in frames_with_these_persons) == agrees
        assert keyframe == (info['timestamp'] - 900) * 30 + (0 if agrees else 1)
        checked += 1
    assert checked >= 3
