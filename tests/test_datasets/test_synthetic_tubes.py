"""The synthetic videos written as a tube dataset (mmevad.datasets.synthetic_ava.tubes)."""
import json
import os
import pickle
from collections import defaultdict

import numpy as np
import pytest

from mmevad.datasets import generate_synthetic_tubes, load_tube_annotations
from mmevad.datasets.synthetic_ava import TUBE_LABELS


def test_ground_truth_is_a_valid_tube_pickle_with_every_frame_annotated(synthetic_tubes):
    annos = load_tube_annotations(synthetic_tubes.gt_file)  # raises on any inconsistency
    assert annos['labels'] == list(TUBE_LABELS)
    assert annos['train_videos'] == [list(synthetic_tubes.train_videos)]
    assert annos['test_videos'] == [list(synthetic_tubes.val_videos)]
    for video in synthetic_tubes.train_videos + synthetic_tubes.val_videos:
        height, width = annos['resolution'][video]
        assert (height, width) == (96, 128)
        frames = sorted(os.listdir(os.path.join(synthetic_tubes.data_root, video)))
        assert len(frames) == annos['nframes'][video] == synthetic_tubes.nframes == 91
        boxes_at = defaultdict(list)
        for label, tubes in annos['gttubes'][video].items():
            for tube in tubes:
                # one action per tube, on consecutive frames, boxes inside the frame
                assert (np.diff(tube[:, 0]) == 1).all()
                assert (tube[:, 1:] >= 0).all()
                assert (tube[:, [3]] <= width).all() and (tube[:, [4]] <= height).all()
                for row in tube:
                    boxes_at[int(row[0])].append(tuple(row[1:]))
        # a figure is in at most one tube per frame: no box carries two labels
        for frame, boxes in boxes_at.items():
            assert len(boxes) == len(set(boxes)), (video, frame)
        assert boxes_at, f'{video} has no annotated frame'


def test_tubes_change_label_where_the_action_changes(synthetic_tubes):
    with open(synthetic_tubes.gt_file, 'rb') as f:
        annos = pickle.load(f)
    tubes = [(label, tube) for video in annos['gttubes']
             for label, items in annos['gttubes'][video].items() for tube in items]
    assert {label for label, _ in tubes} <= set(range(len(TUBE_LABELS)))
    # actions last at least 2 s (60 frames) and the figures stay in the frame (their hips turn
    # at 5 % and 95 % of the width): a tube not cut by the video's ends is a whole action
    cut = [tube for _, tube in tubes if tube[0, 0] > 1 and tube[-1, 0] < 91]
    assert all(len(tube) >= 59 for tube in cut)


def test_output_is_deterministic_and_refuses_foreign_directories(tmp_path):
    kwargs = dict(num_train_videos=1, num_val_videos=1, seconds=1, height=48, width=64)
    first = generate_synthetic_tubes(str(tmp_path / 'a'), **kwargs)
    second = generate_synthetic_tubes(str(tmp_path / 'b'), **kwargs)
    with open(first.gt_file, 'rb') as f, open(second.gt_file, 'rb') as g:
        assert f.read() == g.read()
    with open(os.path.join(first.root, 'synthetic_tubes.json')) as f:
        assert json.load(f)['splits']['val']['videos'] == 1
    generate_synthetic_tubes(str(tmp_path / 'a'), **kwargs)  # its own output: replaced
    (tmp_path / 'other').mkdir()
    (tmp_path / 'other' / 'keep.txt').write_text('x')
    with pytest.raises(ValueError, match='not empty'):
        generate_synthetic_tubes(str(tmp_path / 'other'), **kwargs)
