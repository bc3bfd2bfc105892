from .kept_tokens import (dim_dropped_tokens, draw_kept_tokens, kept_token_masks,
                          pruning_stage_masks)
from .local_visualizer import PERSON_PALETTE, EVADLocalVisualizer

__all__ = [
    'EVADLocalVisualizer', 'PERSON_PALETTE', 'dim_dropped_tokens', 'draw_kept_tokens',
    'kept_token_masks', 'pruning_stage_masks'
]
