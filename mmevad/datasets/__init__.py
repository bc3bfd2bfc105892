from .ground_truth import ground_truth_as_predictions
from .label_maps import LabelMap, load_label_map
from .synthetic_ava import (ACTION_NAMES, CLASS_IDS, SceneConfig, SyntheticAVA,
                            generate_synthetic_ava, label_map_text)

__all__ = [
    'SyntheticAVA', 'generate_synthetic_ava', 'label_map_text', 'SceneConfig', 'ACTION_NAMES',
    'CLASS_IDS', 'ground_truth_as_predictions', 'LabelMap', 'load_label_map'
]
