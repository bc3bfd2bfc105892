from .ckpt_convert import ConversionReport, convert_state_dict
from .mmdet_build import build_in_mmdet_scope

__all__ = ['ConversionReport', 'build_in_mmdet_scope', 'convert_state_dict']
