from .atomic_checkpoint_hook import AtomicCheckpointHook
from .data_report_hook import DataReportHook
from .random_state_hook import RandomStateHook
from .strict_load_hook import StrictLoadHook
from .visualization_hook import EVADVisualizationHook, ava_class_names, load_keyframe

__all__ = [
    'AtomicCheckpointHook', 'DataReportHook', 'RandomStateHook', 'StrictLoadHook',
    'EVADVisualizationHook', 'ava_class_names', 'load_keyframe'
]
