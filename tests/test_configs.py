"""Every config under configs/ loads, and every config that defines a model builds it (through
the registries, as the runner does). Full-size models are built with parameter initialisation
skipped, which makes even ViT-L EVAD a fraction of a second and checks the real composition
rather than a shrunk copy."""
import os.path as osp

import pytest
from _utils import ROOT, all_configs, parameter_init_skipped
from mmaction.registry import MODELS
from mmengine.config import Config

CONFIGS = all_configs()


def test_configs_exist():
    assert any(p.startswith(osp.join('configs', 'evad')) for p in CONFIGS)


@pytest.mark.parametrize('path', all_configs(include_bases=True))
def test_config_loads(path):
    Config.fromfile(osp.join(ROOT, path))


@pytest.mark.parametrize('path', CONFIGS)
def test_config_builds_its_model(path):
    cfg = Config.fromfile(osp.join(ROOT, path))
    with parameter_init_skipped():
        model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) > 0
    if cfg.get('custom_imports') is not None:
        assert 'mmevad' in cfg.custom_imports['imports']


TRAINING_CONFIGS = [p for p in CONFIGS if 'train_cfg' in Config.fromfile(osp.join(ROOT, p))]


@pytest.mark.parametrize('path', TRAINING_CONFIGS)
def test_training_config_saves_safely_at_intervals(path):
    """Crash-safe checkpoints with RNG states, written regularly rather than only at the end."""
    cfg = Config.fromfile(osp.join(ROOT, path))
    checkpoint = cfg.default_hooks.checkpoint
    assert checkpoint.type == 'AtomicCheckpointHook'
    assert any(hook.type == 'RandomStateHook' for hook in cfg.get('custom_hooks', []))
    if cfg.train_cfg.type == 'IterBasedTrainLoop':
        assert checkpoint.by_epoch is False
        assert 0 < checkpoint.interval <= cfg.train_cfg.max_iters // 5
    else:
        assert checkpoint.get('by_epoch', True) and 0 < checkpoint.interval <= 2
