"""EVAD's box clip, shared by the localization head and the RoI extension."""
import torch

from mmevad.models.roi_heads import extend_bboxes
from mmevad.structures import clip_bboxes


def test_clip_stops_at_the_last_pixel_and_leaves_the_input():
    boxes = torch.tensor([[-5., -1., 250., 120.], [10., 20., 30., 40.]])
    out = clip_bboxes(boxes, (100, 200, 3))
    assert torch.equal(out, torch.tensor([[0., 0., 199., 99.], [10., 20., 30., 40.]]))
    assert boxes[0, 2] == 250.
    assert clip_bboxes(torch.zeros(0, 4), (10, 10)).shape == (0, 4)


def test_zero_extension_is_the_clip():
    boxes = torch.rand(20, 4) * 300 - 50
    assert torch.equal(extend_bboxes(boxes, (100, 200), (0., 0.)), clip_bboxes(boxes, (100, 200)))
