from .attention import QVBiasAttention, keyframe_importance
from .pos_embed import get_sinusoid_encoding, resize_pos_embed
from .transformer_block import TransformerBlock

__all__ = [
    'QVBiasAttention', 'TransformerBlock', 'get_sinusoid_encoding', 'keyframe_importance',
    'resize_pos_embed'
]
