"""What several test modules share: the repository root, the configs they start from, and the
tiny models built from them (in the spirit of ``mmdet/testing/_utils.py``). Import it as
``from _utils import ...``; pytest puts ``tests/`` on the path."""
import contextlib
import glob
import os.path as osp
from typing import Tuple
from unittest import mock

import torch
from mmengine.config import Config, ConfigDict

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# the quickstart config (tools/quickstart.sh): 4 frames at stride 8, short side 96, patch 8
EVAD_TINY = osp.join(
    ROOT, 'configs', 'evad',
    'evad_vit-tiny-p8-stem-ktp0.7_scratch_1xb8-4x8x1-1900it_synthetic-ava-rgb.py')
# the model fragments of ViT-B EVAD and of the backbone alone, which tests shrink
EVAD_VIT_B_MODEL = osp.join(ROOT, 'configs', '_base_', 'models', 'evad_vit-base-p16.py')
TPVIT_B_MODEL = osp.join(ROOT, 'configs', '_base_', 'models', 'tpvit-base-p16.py')

# tiny TokenPruningViT: 8 frames of 64x64 -> grid (4, 4, 4), 16 keyframe tokens, 64 in all
TINY_TPVIT = dict(img_size=64, patch_size=16, embed_dims=32, depth=4, num_heads=2, num_frames=8,
                  keep_rates=(1., ) * 4, feature_taps=(0, 1, 2, 3))
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


def model_cfg(config: str) -> ConfigDict:
    """The ``model`` of a config file (absolute, or relative to the repository root)."""
    return Config.fromfile(osp.join(ROOT, config)).model


def tiny_localization_cfgs(channels: int = 32,
                           in_channels: int = 32,
                           num_stages: int = 2,
                           num_proposals: int = 4,
                           feedforward_channels: int = 64,
                           dynamic_channels: int = 16,
                           num_heads: int = 2,
                           **head_options) -> Tuple[ConfigDict, ConfigDict]:
    """The FPN neck and the QueryLocalizationHead of the ViT-B model config with tiny widths.

    Args:
        channels (int): the neck's output and the head's proposal feature width.
        in_channels (int): width of each of the four backbone maps the neck takes.
        num_stages, num_proposals (int): of the head.
        feedforward_channels, dynamic_channels, num_heads (int): of every ``DIIHead`` stage.
        **head_options: further head settings.

    Returns:
        tuple: ``(neck cfg, head cfg)``.
    """
    model = model_cfg(EVAD_VIT_B_MODEL)
    head = model.localization_head
    head.update(num_stages=num_stages, num_proposals=num_proposals,
                proposal_feature_channel=channels, **head_options)
    head.bbox_roi_extractor.out_channels = channels
    head.bbox_head.update(in_channels=channels, feedforward_channels=feedforward_channels,
                          num_heads=num_heads)
    head.bbox_head.dynamic_conv_cfg.update(in_channels=channels, feat_channels=dynamic_channels,
                                           out_channels=channels)
    model.neck.update(in_channels=[in_channels] * 4, out_channels=channels)
    return model.neck, head


def tiny_evad_cfg(**model) -> ConfigDict:
    """A released EVAD model config shrunk to the tiny official architecture of
    ``_official_evad_reference`` (``TINY_BASE_CONFIG``, ``tiny_model_overrides``), without its
    pre-trained ``init_cfg``; ``model`` settings are merged last (nested dicts merge)."""
    from _official_evad_reference import TINY_BASE_CONFIG, tiny_model_overrides
    cfg = Config.fromfile(osp.join(ROOT, TINY_BASE_CONFIG))
    cfg.merge_from_dict(dict(model=tiny_model_overrides()))
    cfg.model.pop('init_cfg')
    cfg.merge_from_dict(dict(model=model))
    return cfg.model
