from .bbox import clip_bboxes
from .token_grid import keyframe_first, keyframe_slot, nonkey_to_flat_index, token_positions
from .token_pruning_output import TokenPruningOutput

__all__ = [
    'TokenPruningOutput', 'clip_bboxes', 'keyframe_first', 'keyframe_slot', 'nonkey_to_flat_index',
    'token_positions'
]
