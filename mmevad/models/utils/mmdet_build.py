"""The one way mmevad's heads build their mmdet parts (RoI extractors, ``DIIHead``, assigners,
samplers): in mmdet's scope unless the config names another ``_scope_``."""
from typing import Any

from mmengine.registry import Registry

__all__ = ['build_in_mmdet_scope']


def build_in_mmdet_scope(registry: Registry, cfg: dict, **kwargs: Any) -> Any:
    """Build ``cfg`` from ``registry`` in mmdet's scope unless ``cfg`` has its own ``_scope_``.

    Why: mmevad's default scope is mmaction's, where mmdet's heads, losses, assigners and
    samplers are not registered; mmaction2's stock AVA configs (whose ``train_cfg`` the RoI head
    reuses) name them without a scope. An explicit ``_scope_`` (e.g. ``'mmaction'`` for
    mmevad's own ``IsolatedSingleRoIExtractor``) is respected.

    Args:
        registry (Registry): e.g. mmdet's ``MODELS`` or ``TASK_UTILS``.
        cfg (dict): the config; not modified.
        **kwargs: passed to ``registry.build`` (e.g. ``default_args``).
    """
    cfg = dict(cfg)
    cfg.setdefault('_scope_', 'mmdet')
    return registry.build(cfg, **kwargs)
