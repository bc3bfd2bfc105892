from .ckpt_convert import ConversionReport, convert_state_dict
from .mmdet_build import build_in_mmdet_scope
from .weight_init import VideoMAEDecoderInit, load_videomae_decoder

__all__ = [
    'ConversionReport', 'VideoMAEDecoderInit', 'build_in_mmdet_scope', 'convert_state_dict',
    'load_videomae_decoder'
]
