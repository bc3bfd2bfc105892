"""Export the whole EVAD detector to ONNX, and run the exported file.

The exported graph maps a normalised, padded clip ``(B, 3, T, H, W)`` to the outputs of every
proposal: boxes clipped to the image, person scores, action scores (the heads' post-processing,
unlike the raw logits of ``EVAD``'s tensor mode) and the kept non-keyframe token indices. The
test-time selection (person threshold, NMS) stays outside, in :meth:`EVAD.select_detections`,
because its output size depends on the data.

``torch.onnx.export`` (``torch.export`` underneath) cannot trace four parts of the eager model
as they are, so :func:`export_rewrites` swaps them for equivalent code while exporting (the
pattern of mmdeploy's function rewriters, without its dependency):

- ``mmevad::keyframe_importance`` is a custom op (one opaque node for the FLOP counter); ONNX has
  no such op, so the export traces its plain PyTorch implementation instead (an export-time
  decomposition: the same chunked ``softmax(q k^T)`` sums, unrolled for the fixed shape).
- mmdet's ``SingleRoIExtractor`` pools each FPN level only for the RoIs mapped to it, with
  ``nonzero`` and a Python branch on how many there are (data-dependent control flow). The
  rewrite pools every RoI on every level and keeps the mapped level's result with ``where``:
  the same values, at a few times the (small) cost of RoIAlign.
- :class:`SeparableRoIAlign` groups RoIs by image with a data-dependent group size; the rewrite
  gathers each RoI's map and contracts it directly (same formula).
- The actor-token extractor pools only RoIs with finite coordinates (``pool_finite_rois``, so a
  damaged clip cannot stop a batch), a branch on the data; the export pools every RoI (the same
  values for finite boxes).

mmcv's ``RoIAlign`` has no ONNX form onnxruntime can run (mmcv 2.x dropped its custom-op library),
so :func:`use_separable_roi_align` replaces it by :class:`SeparableRoIAlign`, which computes the
same aligned average (equal to 1e-10 in float64, ``tests/test_models/test_layers``).
"""
import contextlib
import types
from typing import Callable, Dict, Iterator, Optional, Sequence, Tuple

import numpy as np
import torch
from mmaction.structures import ActionDataSample
from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
from torch import Tensor, nn

from mmevad.models.layers import attention, roi_align
from mmevad.models.layers.roi_align import SeparableRoIAlign
from mmevad.models.roi_heads.roi_extractors import actor_token_extractor
from mmevad.structures import clip_bboxes

__all__ = [
    'EVADTensorOutputs', 'export_rewrites', 'use_separable_roi_align', 'export_onnx',
    'onnx_outputs', 'stage_names'
]

OUTPUT_NAMES = ('bboxes', 'person_scores', 'action_scores', 'kept_index')


class EVADTensorOutputs(nn.Module):
    """An EVAD detector as a function of its input clip alone, for export.

    Args:
        detector (nn.Module): an :class:`~mmevad.models.EVAD` in eval mode.
        img_shape (tuple[int, int], optional): the unpadded ``(h, w)`` of the clips inside the
            padded input (boxes are clipped to it); None means the whole input.
        with_stages (bool): also return the intermediate results named by :func:`stage_names`
            (last keyframe map of the backbone, FPN maps, every localization stage's logits
            and unclipped boxes), to find where an export departs from PyTorch. Defaults to
            False.
    """

    def __init__(self, detector: nn.Module, img_shape: Optional[Tuple[int, int]] = None,
                 with_stages: bool = False) -> None:
        super().__init__()
        self.detector = detector
        self.img_shape = img_shape
        self.with_stages = with_stages

    def forward(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        """Args:
            inputs (Tensor): ``(B, 3, T, H, W)`` normalised, padded clips.

        Returns:
            tuple[Tensor]: proposal boxes ``(B, P, 4)`` pixel xyxy clipped to
            ``[0, w - 1] x [0, h - 1]``, person scores ``(B, P)``,
            action scores ``(B, P, num_classes + 1)`` (column 0 unused) and the kept
            non-keyframe token indices ``(B, K)`` (int64); with ``with_stages``, then the
            tensors of :func:`stage_names` in that order.
        """
        img_shape = self.img_shape or tuple(inputs.shape[-2:])
        samples = [ActionDataSample(metainfo=dict(img_shape=img_shape))
                   for _ in range(inputs.shape[0])]
        feats, fpn_feats = self.detector.extract_feat(inputs)
        stages = []
        # predict() runs the head's forward once; the hook keeps its per-stage outputs
        handle = self.detector.localization_head.register_forward_hook(
            lambda module, args, output: stages.append(output)) if self.with_stages else None
        try:
            proposals = self.detector.localization_head.predict(fpn_feats, samples)
        finally:
            if handle is not None:
                handle.remove()
        actions = self.detector.roi_head.predict(feats, proposals, samples)
        # the exported boxes are outputs: clipped to the image as EVAD clips its own
        # (EVAD.select_detections); the heads hand on the boxes as predicted
        outputs = (torch.stack([clip_bboxes(p.bboxes, img_shape) for p in proposals]),
                   torch.stack([p.scores for p in proposals]),
                   torch.stack([a.scores for a in actions]), feats.kept_index)
        if not self.with_stages:
            return outputs
        stage_cls, stage_bboxes = stages[0]
        extra = [feats.keyframe_feats[-1], *fpn_feats[:len(FPN_NAMES)]]
        for cls_score, bboxes in zip(stage_cls, stage_bboxes):
            extra += [cls_score, bboxes]
        return outputs + tuple(extra)


FPN_NAMES = ('fpn_p2', 'fpn_p3', 'fpn_p4', 'fpn_p5')


def stage_names(num_stages: int) -> Tuple[str, ...]:
    """Names of the extra outputs of ``EVADTensorOutputs(with_stages=True)``: the backbone's
    last keyframe map ``(B, C, h, w)``, the FPN maps p2..p5, and per localization stage ``i``
    its person / no-object logits ``stage{i}_cls`` ``(B, P, 2)`` and unclipped boxes
    ``stage{i}_bboxes`` ``(B, P, 4)``."""
    names = ['backbone_keyframe', *FPN_NAMES]
    for i in range(num_stages):
        names += [f'stage{i}_cls', f'stage{i}_bboxes']
    return tuple(names)


def use_separable_roi_align(model: nn.Module) -> int:
    """Replace every ``mmcv.ops.RoIAlign`` inside ``model`` by an equal
    :class:`SeparableRoIAlign`, in place.

    Returns:
        int: how many layers were replaced.

    Raises:
        ValueError: for a RoIAlign that :class:`SeparableRoIAlign` cannot reproduce (max pooling,
            ``aligned=False`` or the adaptive ``sampling_ratio=0``).
    """
    from mmcv.ops import RoIAlign
    replaced = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if not isinstance(child, RoIAlign):
                continue
            if child.pool_mode != 'avg' or not child.aligned or child.sampling_ratio <= 0:
                raise ValueError(
                    f'{name}: RoIAlign(pool_mode={child.pool_mode!r}, aligned={child.aligned}, '
                    f'sampling_ratio={child.sampling_ratio}) has no exportable equivalent; '
                    f"export supports pool_mode='avg', aligned=True, sampling_ratio > 0")
            setattr(parent, name, SeparableRoIAlign(
                child.output_size, child.spatial_scale, child.sampling_ratio))
            replaced += 1
    return replaced


def _roi_extractor_forward(self, feats: Sequence[Tensor], rois: Tensor,
                           roi_scale_factor: Optional[float] = None) -> Tensor:
    """``SingleRoIExtractor.forward`` without data-dependent control flow: every RoI is pooled
    on every level and the level :meth:`map_roi_levels` picks is kept."""
    rois = rois.type_as(feats[0])
    num_levels = len(feats)
    if num_levels == 1:
        return self.roi_layers[0](feats[0], rois)
    levels = self.map_roi_levels(rois, num_levels).view(-1, 1, 1, 1)
    if roi_scale_factor is not None:
        rois = self.roi_rescale(rois, roi_scale_factor)
    pooled = self.roi_layers[0](feats[0], rois)
    for level in range(1, num_levels):
        pooled = torch.where(levels == level, self.roi_layers[level](feats[level], rois), pooled)
    return pooled


def _separable_roi_align_forward(self, input: Tensor, rois: Tensor) -> Tensor:
    """:meth:`SeparableRoIAlign.forward` with each RoI's map gathered instead of grouping the RoIs
    by image (whose group size depends on the data): ``(n, C, out_h, out_w)``."""
    out_h, out_w = self.output_size
    height, width = input.shape[-2:]
    wy = self._axis_weights(rois[:, 2], rois[:, 4], out_h, height).to(input.dtype)
    wx = self._axis_weights(rois[:, 1], rois[:, 3], out_w, width).to(input.dtype)
    maps = input[rois[:, 0].long()]  # (n, C, H, W)
    if height * width <= roi_align._DENSE_MAX_CELLS:
        # the same form as the eager layer on small maps: each RoI's full bilinear matrix
        kron = wy[:, :, None, :, None] * wx[:, None, :, None, :]  # (n, out_h, out_w, H, W)
        return torch.einsum('nijhw,nchw->ncij', kron, maps)
    return torch.einsum('nih,nchw,njw->ncij', wy, maps, wx)


def _pool_all_rois(pool: Callable[[Tensor], Tensor], rois: Tensor, out: Tensor) -> Tensor:
    """``pool_finite_rois`` without its data-dependent check: every RoI is pooled."""
    return pool(rois)


@contextlib.contextmanager
def export_rewrites(model: nn.Module) -> Iterator[None]:
    """Within this context, ``model`` traces with ``torch.export`` (see the module docstring);
    its outputs are those of the portable path (:func:`~mmevad.models.layers.attention.
    portable_importance`; the CPU inference path equals them up to float rounding). The rewrites
    are undone on exit."""
    patched = []
    for module in model.modules():
        if isinstance(module, SingleRoIExtractor):
            module.forward = types.MethodType(_roi_extractor_forward, module)
        elif isinstance(module, SeparableRoIAlign):
            module.forward = types.MethodType(_separable_roi_align_forward, module)
        else:
            continue
        patched.append(module)
    # the custom op's own Python body, traced op by op
    importance_op = attention.keyframe_importance
    attention.keyframe_importance = attention.keyframe_importance_eager
    finite_rois_only = actor_token_extractor.pool_finite_rois
    actor_token_extractor.pool_finite_rois = _pool_all_rois
    try:
        # ONNX has no form of the CPU paths (flash kernel's logsumexps, one-pass chunks): rank
        # with the portable one
        with attention.portable_importance():
            yield
    finally:
        attention.keyframe_importance = importance_op
        actor_token_extractor.pool_finite_rois = finite_rois_only
        for module in patched:
            del module.forward


def export_onnx(detector: nn.Module,
                out_file: str,
                input_shape: Tuple[int, int, int, int, int],
                img_shape: Optional[Tuple[int, int]] = None,
                opset_version: int = 18,
                with_stages: bool = False) -> None:
    """Export ``detector`` (an EVAD in eval mode on the CPU) to ``out_file``.

    The shape is fixed per export: the number of kept tokens of each pruning block follows from
    the token count. (With a symbolic height and width ``torch.export`` succeeds once the
    samples' ``img_shape`` skips mmengine's deep copy, but the graph is then wrong at any other
    size, some size read from the input still being a constant: measured on the tiny config,
    boxes 72 px and scores 0.3 off at 96 x 64 for a 64 x 96 trace.) A clip of another size
    needs another export.

    Args:
        detector (nn.Module): the EVAD detector; mmcv RoIAlign layers are first replaced by
            :class:`SeparableRoIAlign` (in place).
        out_file (str): the ``.onnx`` file to write.
        input_shape (tuple[int]): ``(B, 3, T, H, W)`` of the padded input clips.
        img_shape (tuple[int, int], optional): see :class:`EVADTensorOutputs`.
        opset_version (int): ONNX opset. Defaults to 18.
        with_stages (bool): add the intermediate outputs of :func:`stage_names` (a debugging
            export). Defaults to False.
    """
    use_separable_roi_align(detector)
    wrapper = EVADTensorOutputs(detector.eval(), img_shape, with_stages).eval()
    names = list(OUTPUT_NAMES)
    if with_stages:
        names += stage_names(len(detector.localization_head.bbox_head))
    example = torch.zeros(input_shape)
    with torch.no_grad(), export_rewrites(detector):
        torch.onnx.export(
            wrapper, (example, ),
            out_file,
            input_names=['inputs'],
            output_names=names,
            opset_version=opset_version,
            dynamo=True,
            external_data=False,
            verbose=False)


def onnx_outputs(onnx_file: str, inputs: np.ndarray,
                 providers: Optional[Sequence[str]] = None) -> Dict[str, np.ndarray]:
    """Run an exported file with onnxruntime (the ``deploy`` extra).

    Args:
        onnx_file (str): the exported model.
        inputs (np.ndarray): ``(B, 3, T, H, W)`` float32 clips of the exported shape.
        providers (list[str], optional): onnxruntime execution providers; default CPU.

    Returns:
        dict[str, np.ndarray]: the outputs by name (``bboxes``, ``person_scores``,
        ``action_scores``, ``kept_index``, and those of :func:`stage_names` for an export
        ``with_stages``).
    """
    try:
        import onnxruntime
    except ImportError as error:
        raise ImportError('running an exported model needs onnxruntime: pip install '
                          '"mmevad[deploy]" (or pip install onnxruntime)') from error
    session = onnxruntime.InferenceSession(
        onnx_file, providers=list(providers or ['CPUExecutionProvider']))
    expected = tuple(session.get_inputs()[0].shape)
    if tuple(inputs.shape) != expected:
        raise ValueError(f'{onnx_file} was exported for inputs of shape {expected}, got '
                         f'{tuple(inputs.shape)}; export again with --shape for this size')
    names = [output.name for output in session.get_outputs()]
    outputs = session.run(names, {'inputs': inputs.astype(np.float32)})
    return dict(zip(names, outputs))
