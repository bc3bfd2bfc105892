from .ava_checks import AVADataError, FrameDecodeError
from .ava_dataset import EVADAVADataset
from .ground_truth import ground_truth_as_predictions
from .label_maps import LabelMap, load_label_map
from .synthetic_ava import (ACTION_NAMES, CLASS_IDS, SceneConfig, SyntheticAVAFiles,
                            SyntheticTubeFiles, generate_synthetic_ava, generate_synthetic_tubes,
                            label_map_text, simulate_video)
from .transforms import CheckedRawFrameDecode, SampleAVAKeyframeClip
from .tube_ava_dataset import TubeAVADataset
from .tubes import (TubeAnnotationError, TubeAVAFiles, convert_tubes_to_ava,
                    load_tube_annotations)

__all__ = [
    'SyntheticAVAFiles', 'generate_synthetic_ava', 'label_map_text', 'SceneConfig', 'ACTION_NAMES',
    'CLASS_IDS', 'ground_truth_as_predictions', 'EVADAVADataset', 'AVADataError',
    'FrameDecodeError', 'CheckedRawFrameDecode', 'SampleAVAKeyframeClip', 'simulate_video',
    'TubeAVADataset', 'TubeAnnotationError', 'TubeAVAFiles', 'convert_tubes_to_ava',
    'load_tube_annotations', 'SyntheticTubeFiles', 'generate_synthetic_tubes', 'LabelMap',
    'load_label_map'
]
