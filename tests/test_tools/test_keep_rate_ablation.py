"""tools/analysis_tools/keep_rate_ablation.py: the keep-rate schedules it trains."""
import importlib.util
import os.path as osp

import pytest

from .conftest import ROOT

spec = importlib.util.spec_from_file_location(
    'keep_rate_ablation', osp.join(ROOT, 'tools/analysis_tools/keep_rate_ablation.py'))
ablation = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ablation)


def test_rate_goes_to_the_configs_pruning_blocks_by_default():
    assert ablation.schedule_with_rate([1, .7, .7, 1], .5) == [1, .5, .5, 1]
    assert ablation.schedule_with_rate([1, .7, .7, 1], 1.) == [1, 1, 1, 1]


def test_named_pruning_blocks_replace_the_configs():
    assert ablation.schedule_with_rate([1, .7, .7, 1], .5, [1]) == [1, .5, 1, 1]


def test_unusable_schedules_are_refused():
    with pytest.raises(ValueError, match='prunes in no block'):
        ablation.schedule_with_rate([1, 1, 1], .5)
    with pytest.raises(ValueError, match='out of range'):
        ablation.schedule_with_rate([1, .7, .7, 1], .5, [4])
