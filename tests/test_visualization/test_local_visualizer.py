"""EVADLocalVisualizer draws boxes where they are and labels only above the threshold."""
import mmcv
import numpy as np
import pytest
import torch
from mmaction.registry import VISUALIZERS
from mmaction.structures import ActionDataSample
from mmengine.structures import InstanceData

from mmevad.visualization import EVADLocalVisualizer

GRAY = 90
NAMES = ['stand', 'walk', 'wave']


@pytest.fixture
def visualizer():
    return EVADLocalVisualizer(name='test_evad_visualizer', line_width=2)


def changed(drawn, image):
    """(H, W) bool: pixels the drawing changed."""
    return np.abs(drawn.astype(int) - image.astype(int)).sum(-1) > 0


def border_band(shape, box, margin):
    """(H, W) bool: pixels within ``margin`` of the outline of ``box``."""
    ys, xs = np.mgrid[:shape[0], :shape[1]]
    x1, y1, x2, y2 = box
    outer = (xs >= x1 - margin) & (xs <= x2 + margin) & (ys >= y1 - margin) & (ys <= y2 + margin)
    inner = (xs > x1 + margin) & (xs < x2 - margin) & (ys > y1 + margin) & (ys < y2 - margin)
    return outer & ~inner


def assert_outline_drawn(diff, box, margin=2):
    """The outline of ``box`` is drawn on all four sides, at the middle of each side."""
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    xm, ym = (x1 + x2) // 2, (y1 + y2) // 2
    for x, y in [(x1, ym), (x2, ym), (xm, y1), (xm, y2)]:
        assert diff[y - margin:y + margin + 1, x - margin:x + margin + 1].any(), (x, y)


def test_registered_in_mmaction_visualizers():
    assert VISUALIZERS.get('EVADLocalVisualizer') is EVADLocalVisualizer


@pytest.mark.parametrize('size', [(96, 128), (720, 1280)])
def test_scores_under_threshold_draw_the_box_only(visualizer, size):
    image = np.full((*size, 3), GRAY, np.uint8)
    h, w = size
    box = [0.2 * w, 0.3 * h, 0.6 * w, 0.9 * h]
    drawn = visualizer.draw_actor_detections(image, np.array([box]), np.array([[0.4, 0.1, 0.3]]),
                                             NAMES, action_thr=0.5)
    assert drawn.shape == image.shape and drawn.dtype == np.uint8
    diff = changed(drawn, image)
    assert_outline_drawn(diff, box)
    # nothing else: no label for scores under the threshold, no pixel off the outline
    assert not (diff & ~border_band(size, box, margin=3)).any()
    np.testing.assert_array_equal(image, GRAY)  # the input is not modified


@pytest.mark.parametrize('size', [(96, 128), (720, 1280)])
def test_actions_above_threshold_are_labelled_above_the_box(visualizer, size):
    image = np.full((*size, 3), GRAY, np.uint8)
    h, w = size
    box = [0.2 * w, 0.4 * h, 0.6 * w, 0.9 * h]
    scores = np.array([[0.9, 0.7, 0.6]])
    one = changed(visualizer.draw_actor_detections(image, np.array([box]), scores, NAMES,
                                                   max_labels=1), image)
    three = changed(visualizer.draw_actor_detections(image, np.array([box]), scores, NAMES,
                                                     max_labels=3), image)
    for diff in (one, three):
        assert_outline_drawn(diff, box)
        label = diff & ~border_band(size, box, margin=3)
        rows, cols = label.nonzero()
        assert rows.size > 0
        # the label sits above the box, starting at its left edge
        assert rows.max() <= box[1] and cols.min() >= box[0] - 3
    # three labels are three lines: a taller label block
    height = lambda diff: np.ptp((diff & ~border_band(size, box, 3)).nonzero()[0])  # noqa: E731
    assert height(three) > 2 * height(one)


def test_two_persons_get_their_own_boxes(visualizer):
    image = np.full((120, 160, 3), GRAY, np.uint8)
    boxes = np.array([[10, 40, 60, 110], [90, 30, 150, 100]], np.float32)
    drawn = visualizer.draw_actor_detections(image, torch.from_numpy(boxes),
                                             torch.zeros(2, 3), NAMES)
    diff = changed(drawn, image)
    for box in boxes:
        assert_outline_drawn(diff, box)
    assert not (diff & ~(border_band(diff.shape, boxes[0], 3)
                         | border_band(diff.shape, boxes[1], 3))).any()
    # two colours
    assert not np.array_equal(drawn[75, 10], drawn[65, 90])


def test_mismatched_class_names_are_refused(visualizer):
    image = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(ValueError, match='one name per score column'):
        visualizer.draw_actor_detections(image, np.zeros((1, 4)), np.zeros((1, 4)), NAMES)


def sample(img_shape, pred_boxes, pred_scores, gt_boxes=None, gt_labels=None):
    data_sample = ActionDataSample(metainfo=dict(img_shape=img_shape, img_key='v,0902'))
    data_sample.pred_instances = InstanceData(bboxes=torch.tensor(pred_boxes),
                                              scores=torch.tensor(pred_scores))
    if gt_boxes is not None:
        data_sample.gt_instances = InstanceData(bboxes=torch.tensor(gt_boxes),
                                                labels=torch.tensor(gt_labels))
    return data_sample


def test_add_datasample_scales_normalised_predictions_to_the_frame(visualizer, tmp_path):
    # raw keyframe 100x200; the network saw it at 50x100; EVAD's boxes are in [0, 1]
    image = np.full((100, 200, 3), GRAY, np.uint8)
    data_sample = sample((50, 100), [[0.25, 0.2, 0.75, 0.8]], [[0., 0.1, 0.2, 0.3]])
    out_file = tmp_path / 'pred.png'
    visualizer.add_datasample('keyframe', image, data_sample, out_file=str(out_file))
    drawn = mmcv.imread(str(out_file), channel_order='rgb')
    assert drawn.shape == image.shape
    np.testing.assert_array_equal(drawn, visualizer.get_image())
    diff = changed(drawn, image)
    pixel_box = [50, 20, 150, 80]
    assert_outline_drawn(diff, pixel_box)
    assert not (diff & ~border_band(diff.shape, pixel_box, margin=3)).any()


def test_add_datasample_draws_gt_left_and_predictions_right(visualizer, tmp_path):
    image = np.full((100, 200, 3), GRAY, np.uint8)
    # ground truth in pixels of the 50x100 network input: (10, 10, 40, 40) -> (20, 20, 80, 80)
    data_sample = sample((50, 100), [[0.5, 0.2, 0.9, 0.8]], [[0., 0.9, 0.2, 0.3]],
                         gt_boxes=[[10., 10., 40., 40.]], gt_labels=[[0., 0., 1., 0.]])
    visualizer.dataset_meta = dict(classes=NAMES)
    visualizer.add_datasample('keyframe', image, data_sample, out_file=str(tmp_path / 'a.png'),
                              pred_score_thr=0.5)
    drawn = visualizer.get_image()
    assert drawn.shape == (100, 400, 3)
    gt, pred = changed(drawn[:, :200], image), changed(drawn[:, 200:], image)
    assert_outline_drawn(gt, [20, 20, 80, 80])
    assert_outline_drawn(pred, [100, 20, 180, 80])
    # both have one label (gt: 'walk', pred: 'stand 0.90'), inside the box as there is no room
    for diff, box in ((gt, [20, 20, 80, 80]), (pred, [100, 20, 180, 80])):
        label = diff & ~border_band(diff.shape, box, margin=3)
        assert label.any() and not label[:, :box[0] - 3].any()
    # no predictions drawn under pred_score_thr: only the outline
    visualizer.add_datasample('keyframe', image, data_sample, draw_gt=False,
                              out_file=str(tmp_path / 'b.png'), pred_score_thr=0.95)
    pred = changed(visualizer.get_image(), image)
    assert not (pred & ~border_band(pred.shape, [100, 20, 180, 80], margin=3)).any()


def test_overlay_blended_on_a_frame_is_the_direct_drawing(visualizer):
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (120, 200, 3), dtype=np.uint8)
    boxes = np.array([[20, 50, 80, 115], [110, 45, 190, 110]], np.float32)
    scores = np.array([[0.9, 0.6, 0.1], [0.2, 0.1, 0.7]])
    args = (boxes, scores, NAMES, np.array([0.95, 0.8]))
    direct = visualizer.draw_actor_detections(frame, *args)
    overlay = visualizer.draw_actor_overlay(frame.shape[:2], *args)
    assert overlay.shape == (120, 200, 4)
    blended = EVADLocalVisualizer.blend_overlay(frame, overlay)
    assert np.abs(blended.astype(int) - direct.astype(int)).max() <= 2
    # transparent wherever nothing is drawn
    nothing = ~changed(direct, frame)
    assert overlay[nothing, 3].max() < 0.01
    with pytest.raises(ValueError, match='draw the overlay for the frame size'):
        EVADLocalVisualizer.blend_overlay(frame[:60], overlay)
