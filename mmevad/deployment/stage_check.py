"""Stage-by-stage parity of an ONNX export, each stage fed the same inputs.

An untrained detector can amplify float32 rounding over its refinement stages far beyond any
fixed tolerance, in PyTorch as in onnxruntime (README, "Export to ONNX"); its final outputs then
cannot tell an export that computes another function from one that rounds differently. Here
every localization stage and the action head are exported on their own and fed the inputs of
a float64 run of the whole detector, rounded to float32 ("teacher forcing"): each then adds only
its own rounding, and onnxruntime's difference from the float64 output can be set against
PyTorch float32's.
"""
import copy
import os.path as osp
import tempfile
from typing import Dict, Sequence, Tuple

import numpy as np
import torch
from mmaction.structures import ActionDataSample
from mmdet.structures.bbox import bbox2roi
from mmengine.structures import InstanceData
from torch import Tensor, nn

from mmevad.structures import TokenPruningOutput, clip_bboxes
from .onnx_export import export_rewrites, use_separable_roi_align

__all__ = ['parity_tolerance', 'teacher_forced_errors']


def parity_tolerance(name: str, reference: np.ndarray, frame_size: int) -> float:
    """The parity tolerance of an output: 1e-4 absolute for scores, logits and features; for
    pixel boxes 1e-4 relative to their scale, the frame size or the largest coordinate
    (unclipped boxes of an untrained model reach far outside the frame), e.g. 0.029 px at 288."""
    if 'bboxes' not in name:
        return 1e-4
    return 1e-4 * max(frame_size, float(np.abs(reference).max()))


class _LocalizationStage(nn.Module):
    """Stage ``index`` of a ``QueryLocalizationHead``: FPN maps p2..p5, boxes ``(B, P, 4)`` and
    proposal features ``(B, P, C)`` -> logits ``(B, P, 2)``, refined unclipped boxes
    ``(B, P, 4)`` and proposal features ``(B, P, C)``."""

    def __init__(self, head: nn.Module, index: int) -> None:
        super().__init__()
        self.head = head
        self.index = index

    def forward(self, p2: Tensor, p3: Tensor, p4: Tensor, p5: Tensor, bboxes: Tensor,
                features: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        rois = bbox2roi(list(bboxes))
        cls_score, new_bboxes, features = self.head._refine(
            self.head.bbox_head[self.index], (p2, p3, p4, p5), rois, features)
        return cls_score, new_bboxes.view(bboxes.shape), features


class _ActionHead(nn.Module):
    """The RoI head on the backbone's final tokens ``(B, Nk + K, C)``, kept indices ``(B, K)``
    and the last stage's unclipped boxes ``(B, P, 4)`` -> action scores ``(B, P, classes + 1)``."""

    def __init__(self, roi_head: nn.Module, grid: Tuple[int, int, int],
                 img_shape: Tuple[int, int]) -> None:
        super().__init__()
        self.roi_head = roi_head
        self.grid = grid
        self.img_shape = img_shape

    def forward(self, tokens: Tensor, kept_index: Tensor, unclipped: Tensor) -> Tensor:
        feats = TokenPruningOutput((), tokens, kept_index, self.grid)
        proposals = [InstanceData(bboxes=clip_bboxes(boxes, self.img_shape),
                                  unclipped_bboxes=boxes) for boxes in unclipped]
        samples = [ActionDataSample(metainfo=dict(img_shape=self.img_shape))
                   for _ in range(tokens.shape[0])]
        return torch.stack([r.scores for r in self.roi_head.predict(feats, proposals, samples)])


def _onnxruntime(module: nn.Module, detector: nn.Module, args: Sequence[Tensor],
                 folder: str) -> list:
    import onnxruntime
    onnx_file = osp.join(folder, 'part.onnx')
    with torch.no_grad(), export_rewrites(detector):
        torch.onnx.export(module.eval(), tuple(args), onnx_file, opset_version=18, dynamo=True,
                          external_data=False, verbose=False)
    session = onnxruntime.InferenceSession(onnx_file, providers=['CPUExecutionProvider'])
    feed = {arg.name: value.numpy() for arg, value in zip(session.get_inputs(), args)}
    return session.run(None, feed)


def teacher_forced_errors(detector: nn.Module, clip: Tensor) -> Dict[str, Dict[str, float]]:
    """Largest differences from float64 of every localization stage and of the action head, in
    onnxruntime and in PyTorch float32, each part fed the float64 run's inputs in float32.

    Args:
        detector (nn.Module): an EVAD in eval mode on the CPU; its mmcv RoIAlign layers are
            replaced by :class:`SeparableRoIAlign` (in place), as for the export.
        clip (Tensor): ``(B, 3, T, H, W)`` float32 normalised clip.

    Returns:
        dict: per output (``stage{i}_cls``, ``stage{i}_bboxes``, ``stage{i}_features``,
        ``action_scores``) ``onnx`` and ``float32`` (largest absolute difference from the float64
        output), ``tolerance`` (:func:`parity_tolerance`) and ``scale`` (largest absolute float64
        value).
    """
    use_separable_roi_align(detector)
    detector.eval()
    exact = copy.deepcopy(detector).double()
    img_shape = tuple(clip.shape[-2:])
    samples = [ActionDataSample(metainfo=dict(img_shape=img_shape)) for _ in range(len(clip))]
    report = {}

    def add(name, pytorch, onnx, reference):
        reference = reference.numpy()
        report[name] = dict(
            onnx=float(np.abs(onnx - reference).max()),
            float32=float(np.abs(pytorch.double().numpy() - reference).max()),
            tolerance=parity_tolerance(name, reference, max(img_shape)),
            scale=float(np.abs(reference).max()))

    with torch.no_grad(), tempfile.TemporaryDirectory() as folder:
        feats, fpn_feats = exact.extract_feat(clip.double())
        proposals = exact.localization_head.proposal_generator.predict(fpn_feats, samples)
        bboxes = torch.stack([p.bboxes for p in proposals])
        features = torch.stack([p.features for p in proposals])
        fpn32 = [f.float() for f in fpn_feats[:4]]
        for index in range(len(exact.localization_head.bbox_head)):
            args = (*fpn32, bboxes.float(), features.float())
            outputs = _LocalizationStage(exact.localization_head, index)(
                *fpn_feats[:4], bboxes, features)
            stage = _LocalizationStage(detector.localization_head, index)
            for name, pytorch, onnx, reference in zip(
                    ('cls', 'bboxes', 'features'), stage(*args),
                    _onnxruntime(stage, detector, args, folder), outputs):
                add(f'stage{index}_{name}', pytorch, onnx, reference)
            _, bboxes, features = outputs
        args = (feats.tokens.float(), feats.kept_index, bboxes.float())
        reference = _ActionHead(exact.roi_head, feats.grid, img_shape)(
            feats.tokens, feats.kept_index, bboxes)
        head = _ActionHead(detector.roi_head, feats.grid, img_shape)
        add('action_scores', head(*args), _onnxruntime(head, detector, args, folder)[0],
            reference)
    return report
