from .visualization_hook import EVADVisualizationHook, ava_class_names

__all__ = ['EVADVisualizationHook', 'ava_class_names']
