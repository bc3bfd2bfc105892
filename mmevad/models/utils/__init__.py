from .ckpt_convert import ConversionReport, convert_state_dict

__all__ = ['ConversionReport', 'convert_state_dict']
