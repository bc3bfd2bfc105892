"""TokenPruningViT(out_type='dense') in place of VisionTransformer in mmaction2's stock VideoMAE AVA
detector (mmdet FastRCNN + mmaction AVARoIHead, precomputed proposals)."""
import os.path as osp

import mmaction
import pytest
import torch
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.config import Config
from mmengine.structures import InstanceData

from mmevad.models import TokenPruningViT

STOCK_CONFIG = osp.join(
    osp.dirname(mmaction.__file__), '.mim', 'configs', 'detection', 'videomae',
    'vit-base-p16_videomae-k400-pre_8xb8-16x4x1-20e-adamw_ava-kinetics-rgb.py')


def _detector(keep_rates):
    cfg = Config.fromfile(STOCK_CONFIG).model
    cfg.pop('init_cfg')  # the pretrained URL; no download in tests
    assert cfg.backbone.type == 'mmaction.VisionTransformer'
    cfg.backbone = dict(
        type='mmaction.TokenPruningViT',  # the detector is built in the mmdet scope
        img_size=64, embed_dims=32, depth=4, num_heads=2, num_frames=8,
        keep_rates=keep_rates, feature_taps=(0, 1, 2, 3), out_type='dense')
    cfg.roi_head.bbox_head.in_channels = 32
    return MODELS.build(cfg)


def _sample(height, width, seed):
    torch.manual_seed(seed)
    sample = ActionDataSample()
    sample.set_metainfo(dict(img_shape=(height, width)))
    gt = torch.tensor([[4., 4., 40., 60.], [30., 10., 90., 50.]])
    labels = torch.zeros(2, 81)
    labels[0, [3, 12]] = 1
    labels[1, 7] = 1
    sample.gt_instances = InstanceData(bboxes=gt, labels=labels)
    proposals = torch.cat([gt + torch.randn(2, 4), torch.tensor([[0., 0., 50., 50.]])])
    sample.proposals = InstanceData(bboxes=proposals, scores=torch.ones(3))
    return sample


@pytest.mark.parametrize('keep_rates', [(1., ) * 4, (1., .7, 1., .7)])
def test_stock_videomae_ava_detector_runs_loss_and_predict(keep_rates):
    detector = _detector(keep_rates)
    assert isinstance(detector.backbone, TokenPruningViT)
    inputs = torch.randn(2, 3, 8, 64, 96)

    detector.train()
    losses = detector.loss(inputs, [_sample(64, 96, 0), _sample(64, 96, 1)])
    assert torch.isfinite(losses['loss_action_cls'])
    losses['loss_action_cls'].backward()
    assert detector.backbone.patch_embed.projection.weight.grad.abs().sum() > 0

    detector.eval()
    with torch.no_grad():  # AVARoIHead predicts one clip at a time
        results = detector.predict(inputs[:1], [_sample(64, 96, 2)])
    pred = results[0].pred_instances
    assert pred.bboxes.shape == (3, 4)
    assert pred.scores.shape == (3, 81)
    assert ((pred.scores >= 0) & (pred.scores <= 1)).all()
    assert (pred.bboxes >= 0).all() and (pred.bboxes <= 1).all()  # normalised by img_shape
