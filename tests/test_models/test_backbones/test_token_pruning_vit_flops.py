"""tools/analysis_tools/get_flops.py counts TokenPruningViT the way docs/algorithm.md#flops does."""
import importlib.util
import math
import os.path as osp

import pytest
import torch
from _utils import ROOT, TINY_TPVIT, TPVIT_B_MODEL
from mmaction.registry import MODELS
from mmengine.config import Config
from mmengine.model import BaseModel

TINY = TINY_TPVIT
C, HEADS = TINY['embed_dims'], TINY['num_heads']


@pytest.fixture(scope='module')
def get_flops():
    path = osp.join(ROOT, 'tools', 'analysis_tools', 'get_flops.py')
    spec = importlib.util.spec_from_file_location('get_flops', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _config(keep_rates, enhanced_weight=1.):
    cfg = Config.fromfile(TPVIT_B_MODEL)
    cfg.model.backbone.update(TINY, keep_rates=list(keep_rates), enhanced_weight=enhanced_weight)
    return cfg


def _expected_macs(keep_rates, t=4, h=4, w=4):
    """docs/algorithm.md#flops by hand: linear/conv MACs, q.k^T and attn.v once per block at the
    tokens that enter it, the MLP at the tokens kept, LayerNorm 5 per element, nearest resampling 1
    per output element."""
    nk = h * w
    n = t * nk
    macs = 3 * 2 * 16 * 16 * C * n  # tubelet embedding
    for rate in keep_rates:
        kept = math.ceil(rate * n)
        macs += 4 * n * C * C + 2 * n * n * C + 8 * kept * C * C + 5 * (n + kept) * C
        n = kept
    macs += 5 * n * C  # final norm
    macs += C * nk * (16 + 4 + 1 / 4)  # taps resampled x4, x2, x0.5
    return macs


@pytest.mark.parametrize('keep_rates', [(1., ) * 4, (1., .7, 1., .6)])
def test_backbone_macs_follow_spec_convention(get_flops, keep_rates):
    module, inputs, _ = get_flops.build_counted_model(_config(keep_rates), (8, 64, 64), False)
    _, macs, extra = get_flops.count_macs(module, inputs)
    assert macs == _expected_macs(keep_rates)
    if keep_rates[1] < 1:
        # the importance scores recompute q.k^T (+ the weighted sum) in the 2 pruning blocks,
        # booked apart from the total
        expected_extra = HEADS * (64 * 64 + 45 * 45) * (C // HEADS + 1)
        assert extra == expected_extra
    else:
        assert extra == 0


@MODELS.register_module(name='FlopsTestDetector', force=True)
class FlopsTestDetector(BaseModel):
    """A detector-shaped model: backbone plus a head that reads the data samples' proposals.
    (mmaction2's own FastRCNN + AVARoIHead cannot run mmdet's tensor mode: AVARoIHead's
    _bbox_forward takes an extra argument that StandardRoIHead._forward does not pass.)"""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = MODELS.build(backbone)
        self.head = torch.nn.Linear(C, 7)

    def _forward(self, inputs, data_samples):
        dense = self.backbone(inputs)  # (B, C, t, h, w)
        boxes = torch.stack([sample.proposals.bboxes for sample in data_samples])
        assert data_samples[0].img_shape == tuple(inputs.shape[-2:])
        return self.head(dense.mean((2, 3, 4))), boxes

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return self._forward(inputs, data_samples)


def test_whole_detector_is_counted_through_its_tensor_mode(get_flops):
    backbone = dict(TINY, type='TokenPruningViT', keep_rates=[1.] * 4, out_type='dense')
    cfg = Config(dict(model=dict(type='FlopsTestDetector', backbone=backbone)))
    module, inputs, description = get_flops.build_counted_model(cfg, (8, 64, 96), False)
    assert description.startswith('FlopsTestDetector')
    _, detector_macs, _ = get_flops.count_macs(module, inputs)
    module, inputs, description = get_flops.build_counted_model(cfg, (8, 64, 96), True)
    assert description.startswith('TokenPruningViT')
    _, backbone_macs, _ = get_flops.count_macs(module, inputs)
    # dense output: no tapped maps to resample
    assert backbone_macs == _expected_macs((1., ) * 4, w=6) - C * 24 * (16 + 4 + 1 / 4)
    assert detector_macs == backbone_macs + C * 7


def test_scaled_dot_product_attention_handle(get_flops):
    torch.manual_seed(0)

    class Attend(torch.nn.Module):

        def forward(self, x):
            q, k, v = x[..., :8], x[..., :8], x[..., 8:]
            return torch.nn.functional.scaled_dot_product_attention(q, k[:, :, :5], v[:, :, :5])

    module = get_flops.TensorOutputs(Attend())
    _, macs, _ = get_flops.count_macs(module, torch.randn(2, 3, 7, 20))
    assert macs == 2 * 3 * 7 * 5 * (8 + 12)
