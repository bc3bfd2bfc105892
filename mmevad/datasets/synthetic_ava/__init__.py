"""Synthetic AVA-format spatio-temporal action detection data (see :func:`generate_synthetic_ava`).

Modules: :mod:`.scene` draws what a video contains, :mod:`.motion` simulates it over time (boxes,
labels), :mod:`.render` draws the frames, :mod:`.generate` writes the AVA files,
:mod:`.tubes` the same kind of videos as a tube dataset (every frame annotated).
"""
from .generate import (SyntheticAVAFiles, generate_synthetic_ava, label_map_text,
                       simulate_video)
from .scene import ACTION_NAMES, CLASS_IDS, SceneConfig
from .tubes import TUBE_LABELS, SyntheticTubeFiles, generate_synthetic_tubes

__all__ = [
    'SyntheticAVAFiles', 'generate_synthetic_ava', 'label_map_text', 'SceneConfig', 'ACTION_NAMES',
    'CLASS_IDS', 'simulate_video', 'TUBE_LABELS', 'SyntheticTubeFiles', 'generate_synthetic_tubes'
]
