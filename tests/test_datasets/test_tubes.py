"""Tube datasets: the ACT-style pickle -> AVADataset converter, TubeAVADataset, and frame-mAP /
video-mAP through the tube configs' evaluator (TubeMAPMetric)."""
import os.path as osp
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from _utils import ROOT
from mmaction.evaluation.functional import multisports_utils
from mmaction.registry import DATASETS, METRICS
from mmengine.config import Config

from mmevad.datasets import (TubeAnnotationError, convert_tubes_to_ava,
                             ground_truth_as_predictions)
from mmevad.datasets.tubes import tube_rows

TUBE_CONFIGS = [
    'configs/evad/evad_vit-base-p16-ktp0.7_videomae-k400-pre_8xb2-16x1x1-6e_ucf101-24-split1-rgb.py',
    'configs/evad/evad_vit-base-p16-ktp0.7_videomae-k400-pre_8xb2-16x1x1-12e_jhmdb21-split1-rgb.py',
    'configs/evad/evad_vit-base-p16-ktp0.7_videomae-k400-pre_8xb2-16x4x1-8e_multisports-rgb.py',
    'configs/evad/evad_vit-tiny-p8-stem-ktp0.7_scratch_1xb8-4x8x1-300it_synthetic-tubes-rgb.py',
]
TINY_TUBES = TUBE_CONFIGS[-1]


def hand_written_annotations():
    """Two labels; video a/v1 (200x100, 5 frames) in train, b/v2 (100x50, 4 frames) in test."""
    return dict(
        labels=['jump', 'run'],
        gttubes={
            'a/v1': {
                0: [np.array([[2, 20, 10, 120, 90], [3, 30, 10, 130, 90], [4, 40, 10, 140, 90]],
                             dtype=np.float32)],
                # partly outside the frame on frame 1: clipped to it
                1: [np.array([[1, -10, 0, 50, 50], [2, 150, 50, 200, 100]], dtype=np.float32)],
            },
            'b/v2': {1: [np.array([[3, 10, 5, 60, 45], [4, 12, 5, 62, 45]], dtype=np.float32)]},
        },
        nframes={'a/v1': 5, 'b/v2': 4},
        train_videos=[['a/v1']],
        test_videos=[['b/v2']],
        resolution={'a/v1': (100, 200), 'b/v2': (50, 100)})


def write_pickle(annos, path):
    with open(path, 'wb') as f:
        pickle.dump(annos, f)
    return str(path)


def write_frames(root, annos):
    for video, n in annos['nframes'].items():
        folder = root / video
        folder.mkdir(parents=True)
        for k in range(1, n + 1):
            (folder / f'img_{k:05d}.jpg').write_bytes(b'')  # only their names are checked


def test_converter_writes_exact_rows_label_map_and_exclusions(tmp_path):
    annos = hand_written_annotations()
    gt = write_pickle(annos, tmp_path / 'gt.pkl')
    write_frames(tmp_path / 'frames', annos)
    files = convert_tubes_to_ava(gt, tmp_path / 'out', 'toy', frame_root=str(tmp_path / 'frames'))
    with open(files.ann_file_train) as f:
        train = f.read().splitlines()
    # video,frame,x1/w,y1/h,x2/w,y2/h,label + 1,tube id; sorted by frame then tube
    assert train == [
        'a/v1,1,0.0000,0.0000,0.2500,0.5000,2,1',
        'a/v1,2,0.1000,0.1000,0.6000,0.9000,1,0',
        'a/v1,2,0.7500,0.5000,1.0000,1.0000,2,1',
        'a/v1,3,0.1500,0.1000,0.6500,0.9000,1,0',
        'a/v1,4,0.2000,0.1000,0.7000,0.9000,1,0',
    ]
    with open(files.ann_file_val) as f:
        assert f.read().splitlines() == [
            'b/v2,3,0.1000,0.1000,0.6000,0.9000,2,0',
            'b/v2,4,0.1200,0.1000,0.6200,0.9000,2,0',
        ]
    with open(files.label_file) as f:
        assert f.read() == 'item {\n  name: "jump"\n  id: 1\n}\nitem {\n  name: "run"\n  id: 2\n}\n'
    for path in (files.exclude_file_train, files.exclude_file_val):
        assert osp.isfile(path) and osp.getsize(path) == 0
    assert (files.num_classes, files.train_rows, files.val_rows) == (2, 5, 2)
    assert files.train_videos == ('a/v1', ) and files.val_videos == ('b/v2', )
    # every n-th frame (frames 1, 3, 5, ...)
    assert [r.split(',')[1] for r in tube_rows(annos, ['a/v1'], keyframe_stride=2)] == ['1', '3']


@pytest.mark.parametrize('break_it, message', [
    (lambda a: a['gttubes']['b/v2'][1][0].__setitem__((1, 0), 5), 'outside the video'),
    (lambda a: a['gttubes']['a/v1'].__setitem__(2, a['gttubes']['a/v1'].pop(1)),
     r'label 2, outside the 2 labels'),
    (lambda a: a['gttubes']['a/v1'][0][0].__setitem__((0, slice(1, 5)), [300, 10, 320, 20]),
     'lies outside the 200x100 frame'),
    (lambda a: a.pop('resolution'), r"lacks \['resolution'\]"),
])
def test_converter_names_bad_annotations(tmp_path, break_it, message):
    annos = hand_written_annotations()
    break_it(annos)
    gt = write_pickle(annos, tmp_path / 'gt.pkl')
    with pytest.raises(TubeAnnotationError, match=message):
        convert_tubes_to_ava(gt, tmp_path / 'out', 'toy')


def test_converter_names_a_missing_frame_folder_and_frames(tmp_path):
    annos = hand_written_annotations()
    gt = write_pickle(annos, tmp_path / 'gt.pkl')
    write_frames(tmp_path / 'frames', annos)
    (tmp_path / 'frames' / 'b/v2' / 'img_00004.jpg').unlink()
    with pytest.raises(TubeAnnotationError, match=r"video 'b/v2' has 4 frames but .*img_00004"):
        convert_tubes_to_ava(gt, tmp_path / 'out', 'toy', frame_root=str(tmp_path / 'frames'))
    with pytest.raises(TubeAnnotationError, match=r"no frame folder for video 'a/v1'"):
        convert_tubes_to_ava(gt, tmp_path / 'out', 'toy', frame_root=str(tmp_path / 'nowhere'))
    # the command line tool exits with the same message and no traceback
    result = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools/data/tubes_to_ava.py'), gt, str(tmp_path / 'o'),
         '--prefix', 'toy', '--frame-root', str(tmp_path / 'nowhere')],
        capture_output=True, text=True)
    assert result.returncode != 0
    assert "error: no frame folder for video 'a/v1'" in result.stderr
    assert 'Traceback' not in result.stderr


def build_dataset(files, gt, **kwargs):
    cfg = dict(type='TubeAVADataset', ann_file=files.ann_file_val, label_file=files.label_file,
               exclude_file=files.exclude_file_val, num_classes=3, gt_file=gt,
               pipeline=[dict(type='SampleAVAFrames', clip_len=4, frame_interval=2,
                              test_mode=True)],
               data_prefix=dict(img='frames'), test_mode=True)
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def test_tube_dataset_reads_frame_numbers_and_stays_inside_each_video(tmp_path):
    annos = hand_written_annotations()
    gt = write_pickle(annos, tmp_path / 'gt.pkl')
    files = convert_tubes_to_ava(gt, tmp_path / 'out', 'toy')
    dataset = build_dataset(files, gt)
    assert len(dataset) == 2
    info = dataset.get_data_info(0)
    assert (info['video_id'], info['timestamp'], info['img_key']) == ('b/v2', 3, 'b/v2,0003')
    assert np.allclose(info['gt_bboxes'], [[0.1, 0.1, 0.6, 0.9]])
    assert info['gt_labels'].tolist() == [[0., 0., 1.]]  # label 1 ('run') in column 2
    # the clip is centred on frame 3 (file img_00003.jpg) and clipped to the video's 4 frames
    assert dataset[0]['frame_inds'].tolist() == [1, 1, 3, 4]
    assert dataset[1]['frame_inds'].tolist() == [1, 2, 4, 4]

    # all_frames: the unannotated frames 1 and 2 of b/v2 too, with empty ground truth
    every = build_dataset(files, gt, all_frames=True)
    assert [every.get_data_info(i)['timestamp'] for i in range(len(every))] == [1, 2, 3, 4]
    assert every.get_data_info(0)['gt_bboxes'].shape == (0, 4)
    assert every[0]['frame_inds'].tolist() == [1, 1, 1, 3]  # -3, -1, 1, 3

    with pytest.raises(ValueError, match='sets .*fps'):
        build_dataset(files, gt, fps=30)


def config_evaluator(path, ann_file):
    """The val evaluator of a tube config, on another ground-truth pickle."""
    cfg = Config.fromfile(osp.join(ROOT, path)).val_evaluator
    cfg.update(ann_file=ann_file, verbose=False)
    metric = METRICS.build(cfg)
    metric.dataset_meta = {}
    return metric


@pytest.mark.parametrize('path', TUBE_CONFIGS)
def test_tube_configs_use_the_tube_data_path(path):
    cfg = Config.fromfile(osp.join(ROOT, path))
    num_classes = cfg.model.roi_head.num_classes
    assert cfg.model.roi_head.multilabel is False
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        assert loader.dataset.type == 'TubeAVADataset'
        assert loader.dataset.num_classes == num_classes + 1
        assert loader.dataset.gt_file == cfg.val_evaluator.ann_file
    assert cfg.val_evaluator.type == cfg.test_evaluator.type == 'TubeMAPMetric'


@pytest.mark.parametrize('path', TUBE_CONFIGS)
def test_ground_truth_scores_100_through_every_tube_config(synthetic_tubes, tmp_path, path):
    files = convert_tubes_to_ava(synthetic_tubes.gt_file, tmp_path, 'synthetic_tubes')
    dataset = build_dataset(files, synthetic_tubes.gt_file, num_classes=5)
    metric = config_evaluator(path, synthetic_tubes.gt_file)
    metric.process(None, ground_truth_as_predictions(dataset))
    assert metric.evaluate(len(dataset)) == {
        'mAP/frameAP': 100.0, 'mAP/v_map@0.2': 100.0, 'mAP/v_map@0.5': 100.0}


# A test video of 20 frames, 100x100: label 0 ('a') done by persons 1 and 2, label 1 ('b') by
# person 3, each for the whole video.
BOXES = {1: [10, 10, 40, 90], 2: [60, 10, 90, 90], 3: [40, 30, 60, 50]}
LABELS = {1: 0, 2: 0, 3: 1}


def perturbation_annotations():
    frames = np.arange(1, 21, dtype=np.float32)[:, None]
    tubes = {}
    for person, box in BOXES.items():
        tube = np.concatenate([frames, np.tile(np.float32(box), (20, 1))], axis=1)
        tubes.setdefault(LABELS[person], []).append(tube)
    return dict(labels=['a', 'b'], gttubes={'v': tubes}, nframes={'v': 20}, train_videos=[[]],
                test_videos=[['v']], resolution={'v': (100, 100)})


def predictions(boxes_by_person, scores_by_person):
    """One data sample per frame; each person's box (pixels) with its score on its label."""
    samples = []
    for frame in range(1, 21):
        boxes, scores = [], []
        for person, box in boxes_by_person.items():
            boxes.append(torch.tensor(box, dtype=torch.float32) / 100)
            row = torch.zeros(3)  # AVA layout: column 0 unused, label k in column k + 1
            row[LABELS[person] + 1] = scores_by_person[person]
            scores.append(row)
        samples.append(dict(video_id='v', timestamp=frame,
                            pred_instances=dict(bboxes=torch.stack(boxes),
                                                scores=torch.stack(scores))))
    return samples


@pytest.mark.parametrize('case, expected', [
    # person 2's tube missed: label 'a' finds 1 of 2 tubes (AP 0.5 in frames and videos),
    # label 'b' all (AP 1): mean 75 everywhere
    ('missed tube', {'mAP/frameAP': 75.0, 'mAP/v_map@0.2': 75.0, 'mAP/v_map@0.5': 75.0}),
    # person 2's boxes 18 px to the left: IoU 12 * 80 / (2 * 30 * 80 - 12 * 80) = 0.25 on every
    # frame. Frames: its 20 boxes are false positives ranked below person 1's 20 hits, so AP(a)
    # = 0.5. Videos: its tube overlaps person 2's with spatio-temporal IoU 0.25, a hit at 0.2
    # and a miss at 0.5.
    ('box shifted', {'mAP/frameAP': 75.0, 'mAP/v_map@0.2': 100.0, 'mAP/v_map@0.5': 75.0}),
    ('ground truth', {'mAP/frameAP': 100.0, 'mAP/v_map@0.2': 100.0, 'mAP/v_map@0.5': 100.0}),
])
def test_known_perturbations_give_the_hand_computed_maps(tmp_path, case, expected):
    gt = write_pickle(perturbation_annotations(), tmp_path / 'gt.pkl')
    boxes = dict(BOXES)
    if case == 'missed tube':
        del boxes[2]
    elif case == 'box shifted':
        boxes[2] = [42, 10, 72, 90]
    metric = config_evaluator(TINY_TUBES, gt)
    metric.process(None, predictions(boxes, {1: 0.9, 2: 0.8, 3: 0.9}))
    assert metric.evaluate(20) == pytest.approx(expected)


def test_tube_linking_keeps_each_detections_score():
    """mmaction2 1.2.0 gives every linked detection the last detection's score (mended in
    mmevad.compat): two tubes of different scores must keep them."""
    annos = perturbation_annotations()
    dets = []
    for frame in range(1, 21):
        for person, score in ((1, 0.9), (2, 0.3)):
            dets.append([0, frame, 0, score, *BOXES[person]])
    tubes = multisports_utils.link_tubes(annos, np.array(dets, dtype=np.float64))
    assert sorted(round(score, 6) for _, score, _ in tubes[0]) == [0.3, 0.9]
    # and the spatio-temporal IoU runs on NumPy >= 2.4 (mended in mmevad.compat)
    tube = tubes[0][0][2]
    assert multisports_utils.iou3dt_voc(tube, tube) == pytest.approx(1.0)


def test_metric_names_a_head_with_the_wrong_number_of_classes(tmp_path):
    gt = write_pickle(perturbation_annotations(), tmp_path / 'gt.pkl')
    metric = config_evaluator(TINY_TUBES, gt)
    sample = predictions(BOXES, {1: 1., 2: 1., 3: 1.})[0]
    sample['pred_instances']['scores'] = torch.zeros(3, 5)
    with pytest.raises(ValueError, match='num_classes=2'):
        metric.process(None, [sample])
    with pytest.raises(ValueError, match=r'split=2, .* 1 split'):
        METRICS.build(dict(type='TubeMAPMetric', ann_file=gt, split=2))
