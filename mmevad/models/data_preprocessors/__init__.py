from .evad_data_preprocessor import EVADDataPreprocessor

__all__ = ['EVADDataPreprocessor']
