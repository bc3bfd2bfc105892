from .bbox_transforms import bboxes_to_unit, extend_bboxes
from .context_refinement_roi_head import ContextRefinementRoIHead
from .roi_extractors import ActorTokenExtractor, IsolatedSingleRoIExtractor
from .token_remapping import nonkey_to_flat_index, remap_tokens

__all__ = [
    'ActorTokenExtractor', 'ContextRefinementRoIHead', 'IsolatedSingleRoIExtractor',
    'bboxes_to_unit', 'extend_bboxes', 'nonkey_to_flat_index', 'remap_tokens'
]
