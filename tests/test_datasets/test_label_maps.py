"""The AVA v2.2 label maps shipped in mmevad.datasets.label_maps and their reader."""
import pytest
from mmaction.evaluation.functional.ava_utils import read_labelmap

from mmevad.datasets import ACTION_NAMES, load_label_map
from mmevad.datasets.label_maps import AVA_V22_EVAL_LABEL_FILE, AVA_V22_LABEL_FILE


def test_ava_v22_map_has_80_actions_60_evaluated():
    labels = load_label_map('ava_v2.2')
    assert sorted(labels.names) == list(range(1, 81))
    assert len(labels.evaluated) == 60 and labels.evaluated <= set(labels.names)
    assert labels == load_label_map(None)
    # a few well-known entries and ids AVA does not evaluate
    assert labels.names[1] == 'bend/bow (at the waist)' and labels.names[80] == 'watch (a person)'
    assert {2, 16, 18, 19, 21, 23, 25, 31, 32, 33, 35, 39, 40, 42, 44, 50, 53, 55, 71,
            75}.isdisjoint(labels.evaluated)


def test_files_are_read_by_mmaction_as_ava_label_files():
    """The 60-class file is a drop-in ``label_file`` for AVADataset / AVAMetric."""
    with open(AVA_V22_EVAL_LABEL_FILE) as f:
        items, class_ids = read_labelmap(f)
    assert len(items) == 60 and class_ids == load_label_map().evaluated
    with open(AVA_V22_LABEL_FILE) as f:
        assert len(read_labelmap(f)[0]) == 80


def test_synthetic_classes_carry_their_ava_names():
    labels = load_label_map()
    for class_id, name in ACTION_NAMES.items():
        assert labels.names[class_id] == name and class_id in labels.evaluated


def test_text_label_map_and_errors(tmp_path):
    path = tmp_path / 'map.txt'
    path.write_text('# mine\n12: stand\n14: walk\n')
    labels = load_label_map(str(path))
    assert labels.names == {12: 'stand', 14: 'walk'} and labels.reported_ids == [12, 14]
    path.write_text('stand\n')
    with pytest.raises(ValueError, match="expected 'id: name'"):
        load_label_map(str(path))
    with pytest.raises(FileNotFoundError, match='does not exist'):
        load_label_map(str(tmp_path / 'none.pbtxt'))
