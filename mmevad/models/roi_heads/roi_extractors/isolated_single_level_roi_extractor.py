"""mmdet's ``SingleRoIExtractor`` with the images of a batch isolated from one another, and the
helper that keeps a non-finite RoI to its own image (also used by :class:`ActorTokenExtractor`)."""
from typing import Callable, List, Optional, Sequence

import torch
from mmaction.registry import MODELS
from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
from torch import Tensor, nn

from ...layers.roi_align import build_roi_layer

__all__ = ['IsolatedSingleRoIExtractor', 'graph_anchor', 'pool_finite_rois']


def graph_anchor(tensors: Sequence[Tensor]) -> Tensor:
    """A scalar exactly 0 that depends on every tensor in the autograd graph.

    mmdet's extractors add ``feats.sum() * 0`` so that an unused pyramid level stays in the
    graph (distributed training hangs otherwise); but ``NaN * 0`` is NaN, so one non-finite
    image poisons every RoI of the batch. The sum of an empty slice is 0 whatever the values.
    """
    anchor = None
    for t in tensors:
        term = t.reshape(-1)[:0].sum()
        anchor = term if anchor is None else anchor + term
    return anchor


def pool_finite_rois(pool: Callable[[Tensor], Tensor], rois: Tensor,
                     zeros: Callable[[], Tensor]) -> Tensor:
    """Pool only the RoIs whose coordinates are finite; the others get NaN features.

    A box predicted from a non-finite image is NaN; mmcv's RoIAlign stops the whole batch on it
    (an internal assertion) and cannot isolate it. Keeping NaN for that RoI keeps the damage
    visible in its own image's outputs and out of every other image.

    Args:
        pool (callable): ``pool(rois_subset) -> (m, ...)`` features of the given RoIs.
        rois (Tensor): ``(n, 5)`` ``[image index, x1, y1, x2, y2]``.
        zeros (callable): ``zeros() -> (n, ...)`` output buffer, only called when some RoI
            is not finite.

    Returns:
        Tensor: ``(n, ...)``, row ``i`` the pooled features of RoI ``i``.
    """
    finite = torch.isfinite(rois).all(dim=1)
    if bool(finite.all()):
        return pool(rois)
    out = zeros()
    out[~finite] = float('nan')
    if bool(finite.any()):
        out[finite] = pool(rois[finite]).to(out.dtype)
    return out


@MODELS.register_module()
class IsolatedSingleRoIExtractor(SingleRoIExtractor):
    """mmdet's ``SingleRoIExtractor`` (each RoI pooled from the single FPN level its size
    selects) with the images of a batch isolated from one another, and whose ``roi_layer`` may
    also be an mmevad layer such as :class:`SeparableRoIAlign` (mmdet only looks in
    ``mmcv.ops``). Same arguments as ``SingleRoIExtractor``.

    One image never changes another's RoI features (mmdet's does, see :func:`graph_anchor`):
    a RoI with non-finite coordinates gets NaN features (:func:`pool_finite_rois`) and the
    term that keeps unused levels in the graph is exactly 0 even on a NaN map.
    """

    def build_roi_layers(self, layer_cfg: dict, featmap_strides: List[int]) -> nn.ModuleList:
        return nn.ModuleList([build_roi_layer(layer_cfg, 1 / s) for s in featmap_strides])

    def forward(self,
                feats: Sequence[Tensor],
                rois: Tensor,
                roi_scale_factor: Optional[float] = None) -> Tensor:
        """Args:
            feats (Sequence[Tensor]): maps ``(B, C, H_l, W_l)``, one per featmap stride.
            rois (Tensor): ``(n, 5)`` ``[image index, x1, y1, x2, y2]`` pixel coordinates.
            roi_scale_factor (float, optional): scale the RoIs about their centres first.

        Returns:
            Tensor: ``(n, C, out_h, out_w)`` RoI features.
        """
        rois = rois.type_as(feats[0])
        return pool_finite_rois(
            lambda r: self._pool(feats, r, roi_scale_factor), rois,
            lambda: feats[0].new_zeros(rois.size(0), self.out_channels,
                                       *self.roi_layers[0].output_size))

    def _pool(self, feats: Sequence[Tensor], rois: Tensor,
              roi_scale_factor: Optional[float]) -> Tensor:
        """mmdet's level assignment and pooling, on finite RoIs (same order of operations)."""
        roi_feats = feats[0].new_zeros(rois.size(0), self.out_channels,
                                       *self.roi_layers[0].output_size)
        if len(feats) == 1:
            return self.roi_layers[0](feats[0], rois) if len(rois) else roi_feats
        target_lvls = self.map_roi_levels(rois, len(feats))
        if roi_scale_factor is not None:
            rois = self.roi_rescale(rois, roi_scale_factor)
        for i, feat in enumerate(feats):
            inds = (target_lvls == i).nonzero(as_tuple=False).squeeze(1)
            if inds.numel() > 0:
                roi_feats[inds] = self.roi_layers[i](feat, rois[inds])
            else:
                # keep the unused level (and any parameters) in the graph, see graph_anchor
                roi_feats = roi_feats + graph_anchor([feat, *self.parameters()])
        return roi_feats
