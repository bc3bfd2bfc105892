"""EVAD's "3-D RoIAlign": one actor token per box from a (t, h, w) feature map
(docs/algorithm.md#actor-tokens)."""
from typing import Optional

import torch
from mmengine.model import BaseModule
from torch import Tensor

from ...layers.roi_align import build_roi_layer
from .isolated_single_level_roi_extractor import pool_finite_rois

__all__ = ['ActorTokenExtractor']

# upper bound on the pooled values held at once without autograd (4 MiB in float32; the eval
# forward of ViT-B at 288x288 then pools 7 of its 100 RoIs at a time)
_CHUNK_ELEMENTS = 2**20


class ActorTokenExtractor(BaseModule):
    """RoIAlign every temporal slice with the same (keyframe) box, then max over space and
    mean over time.

    mmaction2's ``SingleRoIExtractor3D`` pools over time first (and averages), which is not the
    same (docs/algorithm.md#actor-tokens, docs/official_behaviours.md#d16), hence this module. All
    ``t`` slices go through one RoIAlign call: the map is stacked into a contiguous
    ``(B, t * C, h, w)`` tensor (mmcv's CPU RoIAlign reads non-contiguous inputs wrongly), whose
    channels are the slices' channels, so one RoI per box pools every slice.

    Args:
        roi_layer (dict, optional): an ``mmcv.ops`` RoI layer or an mmevad one such as
            ``SeparableRoIAlign`` (faster on CPU), ``type`` plus its arguments except
            ``spatial_scale``. Defaults to ``dict(type='RoIAlign', output_size=7,
            sampling_ratio=2, aligned=True)`` (detectron2 ``ROIAlignV2``, as EVAD).
        featmap_stride (int): pixels per feature-map cell; the layer's ``spatial_scale`` is
            ``1 / featmap_stride``. Defaults to 16.
    """

    def __init__(self, roi_layer: Optional[dict] = None, featmap_stride: int = 16) -> None:
        super().__init__()
        cfg = dict(type='RoIAlign', output_size=7, sampling_ratio=2, aligned=True)
        cfg.update(roi_layer or {})
        self.featmap_stride = featmap_stride
        self.roi_layer = build_roi_layer(cfg, 1. / featmap_stride)

    def forward(self, feats: Tensor, rois: Tensor) -> Tensor:
        """Pool one token per RoI.

        Args:
            feats (Tensor): ``(B, C, t, h, w)`` feature map.
            rois (Tensor): ``(n, 5)`` rows ``(batch index, x1, y1, x2, y2)``, pixel coordinates.

        Returns:
            Tensor: ``(n, C)`` actor tokens.
        """
        # a RoI with non-finite coordinates (from a non-finite image) gets a NaN token and
        # leaves the other images alone: mmcv's RoIAlign would stop the batch
        return pool_finite_rois(lambda r: self._pool(feats, r), rois,
                                lambda: feats.new_zeros(rois.shape[0], feats.shape[1]))

    def _pool(self, feats: Tensor, rois: Tensor) -> Tensor:
        B, C, t, h, w = feats.shape
        # the t slices of clip b are the t * C channels of image b of a contiguous 2-D batch:
        # one RoI per box pools every slice with that box (the same values as one RoI per slice)
        frames = feats.transpose(1, 2).reshape(B, t * C, h, w).contiguous()
        # without autograd, pool chunks of RoIs and reduce each at once, so that the
        # (n, t * C, o, o) pooled map (the eval forward's largest buffer) is never whole; with
        # autograd the reduction keeps its input for the backward pass anyway
        step = max(1, rois.shape[0])
        if not torch.is_grad_enabled():
            out_h, out_w = self.roi_layer.output_size
            step = max(1, _CHUNK_ELEMENTS // (t * C * out_h * out_w))
        tokens = [
            self._reduce(self.roi_layer(frames, rois[start:start + step]), t, C)
            for start in range(0, max(1, rois.shape[0]), step)  # one call for no RoIs
        ]
        return torch.cat(tokens) if len(tokens) != 1 else tokens[0]

    @staticmethod
    def _reduce(pooled: Tensor, t: int, channels: int) -> Tensor:
        """``(n, t * C, o, o)`` pooled slices -> ``(n, C)``: max over space, mean over time."""
        pooled = pooled.reshape(pooled.shape[0], t, channels, pooled.shape[-2] * pooled.shape[-1])
        return pooled.amax(dim=-1).mean(dim=1)
