"""ONNX export of the whole detector (mmevad.deployment) against eager PyTorch."""
import copy
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from _utils import EVAD_TINY, ROOT
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.config import Config

from mmevad.deployment import (EVADTensorOutputs, export_onnx, export_rewrites, onnx_outputs,
                               stage_names, teacher_forced_errors, use_separable_roi_align)
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
        # the export ranks tokens with the portable path (no ONNX form of the CPU paths, whose
        # float rounding differs); the rewrites must keep that path's outputs
        with attention.portable_importance():
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


def test_stage_outputs_are_the_eager_intermediates():
    detector = tiny_detector()
    clip = random_clip()
    num_stages = len(detector.localization_head.bbox_head)
    with torch.no_grad():
        outputs = EVADTensorOutputs(detector, with_stages=True)(clip)
        plain = EVADTensorOutputs(detector)(clip)
        feats, fpn_feats = detector.extract_feat(clip)
        stage_cls, stage_bboxes = detector.localization_head(fpn_feats, [
            ActionDataSample(metainfo=dict(img_shape=SHAPE[-2:])) for _ in range(SHAPE[0])])
    names = stage_names(num_stages)
    assert len(outputs) == 4 + len(names) == 4 + 5 + 2 * num_stages
    for got, ref in zip(outputs, plain):  # the first four are the plain export's
        torch.testing.assert_close(got, ref, rtol=0, atol=0)
    stages = dict(zip(names, outputs[4:]))
    torch.testing.assert_close(stages['backbone_keyframe'], feats.keyframe_feats[-1])
    torch.testing.assert_close(stages['fpn_p2'], fpn_feats[0])
    torch.testing.assert_close(stages[f'stage{num_stages - 1}_cls'], stage_cls[-1])
    # the last stage's unclipped boxes, of which the plain output holds the clipped ones
    last = stages[f'stage{num_stages - 1}_bboxes']
    torch.testing.assert_close(last, stage_bboxes[-1])
    torch.testing.assert_close(outputs[0][..., 0::2], last[..., 0::2].clamp(0, SHAPE[-1] - 1))


def test_onnxruntime_matches_pytorch_at_every_stage(tmp_path):
    """The intermediates of a ``with_stages`` export (backbone, FPN, every localization stage's
    logits and unclipped boxes) agree with PyTorch's: a departure in one stage shows here even
    where clipping or a later stage would hide it in the final outputs."""
    pytest.importorskip('onnxruntime')
    detector = tiny_detector()
    reference = copy.deepcopy(detector)
    onnx_file = str(tmp_path / 'evad_tiny_stages.onnx')
    export_onnx(detector, onnx_file, SHAPE, with_stages=True)
    names = stage_names(len(reference.localization_head.bbox_head))
    clip = random_clip(2)
    with torch.no_grad():
        expected = EVADTensorOutputs(reference, with_stages=True)(clip)[4:]
    got = onnx_outputs(onnx_file, clip.numpy())
    assert set(got) == {'bboxes', 'person_scores', 'action_scores', 'kept_index', *names}
    for name, ref in zip(names, expected):
        ref = ref.numpy()
        if name.endswith('_bboxes'):
            # unclipped pixel boxes (far outside the 96-px frame with initial weights): 1e-4
            # relative to the largest coordinate of the stage
            np.testing.assert_allclose(got[name], ref, rtol=0, atol=1e-4 * np.abs(ref).max(),
                                       err_msg=name)
        else:
            np.testing.assert_allclose(got[name], ref, rtol=1e-4, atol=1e-4, err_msg=name)


def _export_tool(*args, cwd):
    return subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'deployment', 'export_onnx.py'), EVAD_TINY,
         *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_export_tool_verifies_every_stage_against_pytorch(tmp_path):
    """``export_onnx.py --verify --stages --teacher-forced``: one row per output with the
    onnxruntime and the float32-rounding differences, the tolerance and the verdict, then one
    per part fed the same inputs."""
    pytest.importorskip('onnxruntime')
    done = _export_tool('none', tmp_path / 'tiny.onnx', '--shape', *SHAPE[2:], '--batch-size', 2,
                        '--verify', '--stages', '--teacher-forced', '--box-delta-scale', 0.1,
                        cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]
    assert 'same kept tokens: True' in done.stdout
    rows = re.findall(r'^(\w+) +([0-9.e+-]+) +([0-9.e+-]+) +([0-9.e+-]+)  (yes|NO)$',
                      done.stdout, re.MULTILINE)
    num_stages = len(tiny_detector().localization_head.bbox_head)
    parts = [f'stage{i}_{name}' for i in range(num_stages)
             for name in ('cls', 'bboxes', 'features')]
    assert [row[0] for row in rows] == ['bboxes', 'person_scores', 'action_scores',
                                        *stage_names(num_stages), *parts, 'action_scores']
    for name, onnx_diff, float32_diff, tol, verdict in rows:
        assert float(float32_diff) > 0  # float64 really ran
        assert verdict == 'yes' and float(onnx_diff) <= float(tol), name


def test_every_part_fed_the_same_inputs_is_as_close_to_float64_as_pytorch():
    """Teacher forcing: each localization stage and the action head, exported alone and fed a
    float64 run's inputs, differ from float64 only by their own rounding."""
    pytest.importorskip('onnxruntime')
    detector = tiny_detector()
    report = teacher_forced_errors(detector, random_clip())
    num_stages = len(detector.localization_head.bbox_head)
    assert list(report) == [f'stage{i}_{name}' for i in range(num_stages)
                            for name in ('cls', 'bboxes', 'features')] + ['action_scores']
    for name, row in report.items():
        assert 0 < row['float32'] <= row['tolerance'], name
        assert row['onnx'] <= row['tolerance'], name
    # the boxes of the later stages leave the 96-px frame: tolerances scale with them
    assert report[f'stage{num_stages - 1}_bboxes']['scale'] > 96


def test_export_tool_scales_box_deltas_of_initialised_weights_only(tmp_path):
    done = _export_tool('trained.pth', tmp_path / 'tiny.onnx', '--box-delta-scale', 0.1,
                        cwd=tmp_path)
    assert done.returncode != 0
    assert ("--box-delta-scale changes initialised weights; it needs checkpoint 'none'"
            in done.stderr)
    assert not (tmp_path / 'tiny.onnx').exists()
