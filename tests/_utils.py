"""Helpers shared by several test modules."""
import contextlib
import glob
import os.path as osp
from unittest import mock

import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
INIT_FUNCTIONS = ('uniform_', 'normal_', 'trunc_normal_', 'constant_', 'ones_', 'zeros_',
                  'xavier_uniform_', 'xavier_normal_', 'kaiming_uniform_', 'kaiming_normal_')


@contextlib.contextmanager
def parameter_init_skipped():
    """torch.nn.init's fills become no-ops, so a full-size model is built without writing its
    (lazily allocated) parameters: a ViT-L EVAD builds in a fraction of a second."""
    with contextlib.ExitStack() as stack:
        for name in INIT_FUNCTIONS:
            stack.enter_context(
                mock.patch.object(torch.nn.init, name, lambda tensor, *args, **kwargs: tensor))
        yield


def all_configs(include_bases: bool = False):
    """Every config file under configs/ (relative paths), ``_base_`` fragments optional."""
    paths = sorted(glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True))
    paths = [osp.relpath(p, ROOT) for p in paths]
    return [p for p in paths if include_bases or '_base_' not in p]
