from .attention import QVBiasAttention
from .pos_embed import get_sinusoid_encoding, resize_pos_embed
from .transformer_block import TransformerBlock

__all__ = ['QVBiasAttention', 'TransformerBlock', 'get_sinusoid_encoding', 'resize_pos_embed']
