"""The model fragments carry the released keep-rate schedules of
docs/algorithm.md#keep-rate-schedules, and their backbones build."""
import os.path as osp

import pytest
import torch
from mmaction.registry import MODELS
from mmengine.config import Config

from mmevad.models import TokenPruningViT

MODEL_DIR = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))),
                     'configs', '_base_', 'models')


def _rates(depth, blocks, rate):
    return [rate if i in blocks else 1. for i in range(depth)]


@pytest.mark.parametrize('name, depth, width, heads, taps, drop_path, rates, ew', [
    ('tpvit-base-p16', 12, 768, 12, (2, 5, 8, 11), .1, [1.] * 12, 1.),
    ('evad_vit-base-p16-ktp0.7', 12, 768, 12, (2, 5, 8, 11), .1, _rates(12, (3, 6, 9), .7), 1.),
    ('evad_vit-base-p16-ktp0.6-ew4', 12, 768, 12, (2, 5, 8, 11), .1, _rates(12, (3, 6, 9), .6), 4.),
    ('evad_vit-large-p16-ktp0.7', 24, 1024, 16, (5, 11, 17, 23), .2, _rates(24, (6, 12, 18), .7),
     1.),
])
def test_released_schedules(name, depth, width, heads, taps, drop_path, rates, ew):
    cfg = Config.fromfile(osp.join(MODEL_DIR, f'{name}.py'))
    backbone = cfg.model.backbone
    assert backbone.type == 'TokenPruningViT'
    assert (backbone.depth, backbone.embed_dims, backbone.num_heads) == (depth, width, heads)
    assert tuple(backbone.feature_taps) == taps
    assert backbone.drop_path_rate == drop_path
    assert list(backbone.keep_rates) == rates
    assert backbone.enhanced_weight == ew
    # the token order is the RoI head's option (docs/official_behaviours.md#d1)
    assert backbone.with_cp and 'kept_token_order' not in backbone
    assert (backbone.num_frames, backbone.img_size, backbone.patch_size) == (16, 224, 16)
    # shrunk to a tiny width, the config builds and runs a 16-frame clip
    backbone.update(embed_dims=32, num_heads=2)
    model = MODELS.build(backbone).eval()
    assert isinstance(model, TokenPruningViT)
    with torch.no_grad():
        out = model(torch.randn(1, 3, 16, 64, 64))
    assert out.tokens.shape == (1, model.token_counts(out.grid)[-1], 32)
