"""Pictures of what EVAD detects and what its backbone keeps.

- :class:`EVADLocalVisualizer` (mmaction ``VISUALIZERS``): every actor's box with its top
  actions (:meth:`~EVADLocalVisualizer.draw_actor_detections`), and
  :meth:`~EVADLocalVisualizer.add_datasample` for the AVA-path data samples of tools and hooks
  (``tools/test.py --show-dir``, :class:`mmevad.engine.hooks.EVADVisualizationHook`).
- the kept-token view: :func:`kept_token_masks` / :func:`pruning_stage_masks` turn the kept
  non-keyframe indices of a :class:`~mmevad.structures.TokenPruningOutput` into ``(t, h, w)``
  masks and :func:`draw_kept_tokens` draws them over the clip's frames.
"""
from .kept_tokens import (dim_dropped_tokens, draw_kept_tokens, kept_token_masks,
                          pruning_stage_masks)
from .local_visualizer import PERSON_PALETTE, EVADLocalVisualizer

__all__ = [
    'EVADLocalVisualizer', 'PERSON_PALETTE', 'dim_dropped_tokens', 'draw_kept_tokens',
    'kept_token_masks', 'pruning_stage_masks'
]
