"""ONNX export of the whole detector (mmevad.deployment) against eager PyTorch."""
import copy

import numpy as np
import pytest
import torch
from _utils import EVAD_TINY
from mmaction.registry import MODELS
from mmengine.config import Config

from mmevad.deployment import (EVADTensorOutputs, export_onnx, export_rewrites, onnx_outputs,
                               use_separable_roi_align)
from mmevad.models.layers import attention

# a 4-frame clip padded to 64 x 96: 2 x 8 x 12 tokens of 8 px, 96 non-keyframe tokens
SHAPE = (2, 3, 4, 64, 96)


def tiny_detector(roi_layer_type=None):
    cfg = Config.fromfile(EVAD_TINY)
    if roi_layer_type is not None:
        for layer in (cfg.model.localization_head.bbox_roi_extractor.roi_layer,
                      cfg.model.roi_head.roi_layer):
            layer.type = roi_layer_type
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model.eval()


def random_clip(seed=1):
    return torch.randn(SHAPE, generator=torch.Generator().manual_seed(seed))


def test_export_rewrites_keep_the_outputs_and_are_undone():
    detector = tiny_detector()
    clip = random_clip()
    with torch.no_grad():
        expected = EVADTensorOutputs(detector)(clip)
        with export_rewrites(detector):
            assert attention.keyframe_importance is attention.keyframe_importance_eager
            rewritten = EVADTensorOutputs(detector)(clip)
    assert attention.keyframe_importance is not attention.keyframe_importance_eager
    assert not any('forward' in vars(m) for m in detector.modules())
    for got, ref in zip(rewritten, expected):
        torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)
    # the batch had RoIs on several FPN levels; every one went through the rewritten extractor
    assert torch.equal(rewritten[3], expected[3])


def test_mmcv_roi_align_is_replaced_by_an_equal_separable_one():
    detector = tiny_detector('RoIAlign')
    clip = random_clip()
    with torch.no_grad():
        expected = EVADTensorOutputs(detector)(clip)
        assert use_separable_roi_align(detector) == 1 + 4  # RoI head + 4 FPN levels
        replaced = EVADTensorOutputs(detector)(clip)
    for got, ref in zip(replaced, expected):
        torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4)


def test_max_pooling_roi_align_cannot_be_exported():
    detector = tiny_detector('RoIAlign')
    detector.roi_head.roi_extractor.roi_layer.pool_mode = 'max'
    with pytest.raises(ValueError, match="pool_mode='avg'"):
        use_separable_roi_align(detector)


def test_onnxruntime_matches_pytorch(tmp_path):
    pytest.importorskip('onnxruntime')
    detector = tiny_detector()
    reference = copy.deepcopy(detector)
    onnx_file = str(tmp_path / 'evad_tiny.onnx')
    export_onnx(detector, onnx_file, SHAPE)
    # two clips that are not the export's example input
    for seed in (1, 2):
        clip = random_clip(seed)
        with torch.no_grad():
            boxes, person, actions, kept = EVADTensorOutputs(reference)(clip)
        got = onnx_outputs(onnx_file, clip.numpy())
        np.testing.assert_array_equal(np.sort(got['kept_index'], -1), np.sort(kept.numpy(), -1))
        # boxes are pixels of a 96-px wide frame
        np.testing.assert_allclose(got['bboxes'], boxes.numpy(), rtol=1e-4, atol=1e-2)
        np.testing.assert_allclose(got['person_scores'], person.numpy(), atol=1e-4)
        np.testing.assert_allclose(got['action_scores'], actions.numpy(), atol=1e-4)
    with pytest.raises(ValueError, match='exported for inputs of shape'):
        onnx_outputs(onnx_file, np.zeros((1, 3, 4, 64, 64), np.float32))
