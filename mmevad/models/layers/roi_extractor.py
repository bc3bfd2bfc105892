from typing import List

from mmaction.registry import MODELS
from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
from torch import nn

from .roi_align import build_roi_layer

__all__ = ['MultiLevelRoIExtractor']


@MODELS.register_module()
class MultiLevelRoIExtractor(SingleRoIExtractor):
    """mmdet's ``SingleRoIExtractor`` (each RoI pooled from the FPN level its size selects)
    whose ``roi_layer`` may also be an mmevad layer such as :class:`SeparableRoIAlign`; mmdet
    only looks in ``mmcv.ops``. Same arguments as ``SingleRoIExtractor``."""

    def build_roi_layers(self, layer_cfg: dict, featmap_strides: List[int]) -> nn.ModuleList:
        return nn.ModuleList([build_roi_layer(layer_cfg, 1 / s) for s in featmap_strides])
