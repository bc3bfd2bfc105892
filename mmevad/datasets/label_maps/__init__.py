"""AVA action label maps shipped with mmevad, and a reader for label map files.

``ava_action_list_v2.2.pbtxt`` lists the 80 AVA v2.2 actions (ids 1..80, with their AVA label
type); ``ava_action_list_v2.2_for_activitynet_2019.pbtxt`` the 60 of them AVA's evaluation
scores (the ``label_file`` format ``AVADataset`` / ``AVAMetric`` read). An EVAD model trained
on AVA outputs ``num_classes + 1 = 81`` score columns, column ``k`` for action id ``k``.
"""
import os.path as osp
import re
from dataclasses import dataclass
from typing import Dict, FrozenSet, List, Optional

from mmaction.evaluation.functional.ava_utils import read_labelmap

__all__ = [
    'LabelMap', 'load_label_map', 'AVA_V22', 'AVA_V22_LABEL_FILE', 'AVA_V22_EVAL_LABEL_FILE'
]

HERE = osp.dirname(osp.abspath(__file__))
AVA_V22 = 'ava_v2.2'  # the name configs use: ``label_map = 'ava_v2.2'``
AVA_V22_LABEL_FILE = osp.join(HERE, 'ava_action_list_v2.2.pbtxt')
AVA_V22_EVAL_LABEL_FILE = osp.join(HERE, 'ava_action_list_v2.2_for_activitynet_2019.pbtxt')


@dataclass(frozen=True)
class LabelMap:
    """Action names by score column.

    Attributes:
        names (dict[int, str]): action id (= score column) -> name.
        evaluated (frozenset[int]): the ids a model is trained and scored on (AVA: 60 of the
            80); only these are reported as a person's actions.
    """
    names: Dict[int, str]
    evaluated: FrozenSet[int]

    @property
    def reported_ids(self) -> List[int]:
        """The evaluated ids in increasing order."""
        return sorted(self.evaluated)

    def name(self, class_id: int) -> str:
        return self.names.get(class_id, f'action {class_id}')


def _read_ids_and_names(path: str) -> Dict[int, str]:
    """``{id: name}`` of a ``.pbtxt`` label map (AVA's two layouts, via mmaction2's
    ``read_labelmap``) or of a text file with one ``id: name`` per line (the format of
    mmaction2's ``tools/data/ava/label_map.txt``)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'label map {path!r} does not exist; pass a .pbtxt or an '
                                f"'id: name' text file, or {AVA_V22!r} for the AVA v2.2 map")
    if path.endswith('.pbtxt'):
        with open(path) as f:
            labelmap, _ = read_labelmap(f)
        names = {int(item['id']): item['name'] for item in labelmap}
    else:
        names = {}
        with open(path) as f:
            for line_no, line in enumerate(f, 1):
                if not line.strip() or line.lstrip().startswith('#'):
                    continue
                match = re.match(r'\s*(\d+)\s*:\s*(.+?)\s*$', line)
                if match is None:
                    raise ValueError(f"{path}:{line_no}: expected 'id: name', got {line!r}")
                names[int(match.group(1))] = match.group(2)
    if not names:
        raise ValueError(f'label map {path!r} holds no label')
    return names


def load_label_map(label_map: Optional[str] = None) -> LabelMap:
    """Read a label map.

    Args:
        label_map (str, optional): ``'ava_v2.2'`` (or None) for the shipped AVA v2.2 map:
            80 names, the 60 evaluated ones marked; or the path of a ``.pbtxt`` / ``id: name``
            text file, every id of which counts as evaluated (e.g. the synthetic dataset's
            5-class ``ava_action_list_v2.2_synthetic.pbtxt``). Defaults to None.

    Returns:
        LabelMap: names and evaluated ids.
    """
    if label_map is None or label_map == AVA_V22:
        names = _read_ids_and_names(AVA_V22_LABEL_FILE)
        evaluated = frozenset(_read_ids_and_names(AVA_V22_EVAL_LABEL_FILE))
        return LabelMap(names, evaluated)
    names = _read_ids_and_names(label_map)
    return LabelMap(names, frozenset(names))
