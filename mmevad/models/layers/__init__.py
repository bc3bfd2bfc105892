from .attention import QVBiasAttention, keyframe_importance
from .context_refinement_decoder import ContextRefinementDecoder
from .pos_embed import get_sinusoid_encoding, resize_pos_embed
from .roi_align import DeviceRoIAlign, SeparableRoIAlign, build_roi_layer
from .transformer_block import TransformerBlock

__all__ = [
    'QVBiasAttention', 'ContextRefinementDecoder', 'TransformerBlock', 'get_sinusoid_encoding',
    'keyframe_importance', 'resize_pos_embed', 'SeparableRoIAlign', 'DeviceRoIAlign',
    'build_roi_layer'
]
