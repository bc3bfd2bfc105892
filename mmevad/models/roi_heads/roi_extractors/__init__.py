"""RoI feature extractors of the two heads: :class:`IsolatedSingleRoIExtractor` (the
localization head's, 2-D FPN maps) and :class:`ActorTokenExtractor` (the RoI head's, one token per
box from a (t, h, w) map)."""
from .actor_token_extractor import ActorTokenExtractor
from .isolated_single_level_roi_extractor import (IsolatedSingleRoIExtractor, graph_anchor,
                                                  pool_finite_rois)

__all__ = ['ActorTokenExtractor', 'IsolatedSingleRoIExtractor', 'graph_anchor', 'pool_finite_rois']
