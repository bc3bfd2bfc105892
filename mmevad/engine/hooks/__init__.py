from .visualization_hook import EVADVisualizationHook, ava_class_names, load_keyframe

__all__ = ['EVADVisualizationHook', 'ava_class_names', 'load_keyframe']
