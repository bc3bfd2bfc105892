from .synthetic_ava import (ACTION_NAMES, CLASS_IDS, SceneConfig, SyntheticAVA,
                            generate_synthetic_ava, label_map_text)

__all__ = [
    'SyntheticAVA', 'generate_synthetic_ava', 'label_map_text', 'SceneConfig', 'ACTION_NAMES',
    'CLASS_IDS'
]
