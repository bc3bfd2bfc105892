from .ground_truth import ground_truth_as_predictions
from .tube_ava_dataset import TubeAVADataset
from .tubes import (TubeAnnotationError, TubeAVAFiles, convert_tubes_to_ava,
                    load_tube_annotations)
from .synthetic_ava import (ACTION_NAMES, CLASS_IDS, SceneConfig, SyntheticAVA, SyntheticTubes,
                            generate_synthetic_ava, generate_synthetic_tubes, label_map_text)

__all__ = [
    'SyntheticAVA', 'generate_synthetic_ava', 'label_map_text', 'SceneConfig', 'ACTION_NAMES',
    'CLASS_IDS', 'ground_truth_as_predictions', 'TubeAVADataset', 'TubeAnnotationError',
    'TubeAVAFiles', 'convert_tubes_to_ava', 'load_tube_annotations', 'SyntheticTubes',
    'generate_synthetic_tubes'
]
