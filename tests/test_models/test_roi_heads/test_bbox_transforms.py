"""RoI extension (docs/algorithm.md#roi-extension) and the [0, 1] box frame of AVAMetric
(docs/algorithm.md#test-output)."""
import pytest
import torch

from mmevad.models.roi_heads import bboxes_to_unit, extend_bboxes


def test_extension_enlarges_about_the_centre():
    # bw = 29 - 10 + 1 = 20, bh = 59 - 20 + 1 = 40 -> +-0.4*20/2 = 4 in x, +-0.2*40/2 = 4 in y
    boxes = torch.tensor([[10., 20., 29., 59.], [100., 30., 139., 39.]])
    out = extend_bboxes(boxes, (100, 200), (0.4, 0.2))
    # second: bw = 40 -> 8, bh = 10 -> 1
    assert torch.allclose(out, torch.tensor([[6., 16., 33., 63.], [92., 29., 147., 40.]]))
    assert torch.equal(boxes, torch.tensor([[10., 20., 29., 59.], [100., 30., 139., 39.]]))


def test_extension_clips_to_the_last_pixel():
    boxes = torch.tensor([[0., 0., 199., 99.], [180., 90., 196., 98.]])
    out = extend_bboxes(boxes, (100, 200), (0.4, 0.2))
    # first: x -40 .. 239, y -10 .. 109 -> whole image
    # second: bw 17 -> +-3.4 (x2 199.4 clipped), bh 9 -> +-0.9 (y2 98.9 inside)
    assert torch.allclose(out, torch.tensor([[0., 0., 199., 99.], [176.6, 89.1, 199., 98.9]]))


def test_zero_extension_only_clips():
    boxes = torch.tensor([[190., 5., 250., 95.], [-3., -1., 20., 120.], [1., 2., 3., 4.]])
    out = extend_bboxes(boxes, (100, 200), (0., 0.))
    assert torch.equal(out, torch.tensor([[190., 5., 199., 95.], [0., 0., 20., 99.],
                                          [1., 2., 3., 4.]]))


def test_unit_boxes_are_clipped_and_divided_by_img_shape():
    boxes = torch.tensor([[-10., 10., 100., 60.], [50., 0., 300., 120.]])
    out = bboxes_to_unit(boxes, dict(img_shape=(100, 200)))
    assert torch.allclose(out, torch.tensor([[0., .1, .5, .6], [.25, 0., 1., 1.]]))
    assert out.min() >= 0 and out.max() <= 1


def test_unit_boxes_undo_flip_and_crop():
    boxes = torch.tensor([[20., 10., 60., 50.]])
    flipped = bboxes_to_unit(boxes, dict(img_shape=(100, 200), flip=True))
    assert torch.allclose(flipped, torch.tensor([[.7, .1, .9, .5]]))
    cropped = bboxes_to_unit(boxes, dict(img_shape=(100, 200), crop_quadruple=[.1, .2, .5, .5]))
    assert torch.allclose(cropped, torch.tensor([[.15, .25, .25, .45]]))


@pytest.mark.parametrize('n', [0, 3])
def test_shapes_with_and_without_boxes(n):
    boxes = torch.rand(n, 4) * 50
    boxes[:, 2:] += boxes[:, :2]
    assert extend_bboxes(boxes, (64, 64)).shape == (n, 4)
    assert bboxes_to_unit(boxes, dict(img_shape=(64, 64))).shape == (n, 4)
