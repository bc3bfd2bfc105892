from .evad_optim_wrapper_constructor import EVADOptimWrapperConstructor

__all__ = ['EVADOptimWrapperConstructor']
