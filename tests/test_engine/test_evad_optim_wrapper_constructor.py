import pytest
import torch
from mmaction.registry import OPTIM_WRAPPER_CONSTRUCTORS
from torch import nn


class ToyEVAD(nn.Module):
    """Parameter names shaped like the EVAD detector's."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Module()
        self.backbone.patch_embed = nn.Conv3d(3, 8, 2)          # weight decays, bias not
        self.backbone.q_bias = nn.Parameter(torch.zeros(8))      # 1-D, not called bias
        self.backbone.norm = nn.LayerNorm(8)
        # the FPN and the learned proposals keep the base rate: docs/official_behaviours.md#d7
        self.neck = nn.Conv2d(8, 8, 1)                            # new, but base rate
        self.localization_head = nn.Module()
        self.localization_head.init_proposal_bboxes = nn.Embedding(4, 4)    # base rate
        self.localization_head.init_proposal_features = nn.Embedding(4, 8)  # base rate
        self.localization_head.stage = nn.Linear(8, 8)
        self.roi_head = nn.Module()
        self.roi_head.mask_token = nn.Parameter(torch.zeros(1, 1, 8))  # 3-D but no decay
        self.roi_head.norm = nn.LayerNorm(8)
        self.roi_head.proj = nn.Linear(8, 4, bias=False)
        self.frozen = nn.Parameter(torch.zeros(3, 3), requires_grad=False)


def build(paramwise_cfg=None):
    constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(type='EVADOptimWrapperConstructor',
             optim_wrapper_cfg=dict(optimizer=dict(type='AdamW', lr=2.5e-5, weight_decay=1e-4)),
             paramwise_cfg=paramwise_cfg))
    model = ToyEVAD()
    names = {id(p): n for n, p in model.named_parameters()}
    groups = constructor(model).optimizer.param_groups
    return {(g['lr'], g['weight_decay']): sorted(names[id(p)] for p in g['params'])
            for g in groups}


def test_four_groups_of_spec_4_4():
    groups = build()
    assert groups == {
        (2.5e-5 * 8, 1e-4): ['localization_head.stage.weight', 'roi_head.proj.weight'],
        (2.5e-5 * 8, 0.): ['localization_head.stage.bias', 'roi_head.mask_token',
                           'roi_head.norm.bias', 'roi_head.norm.weight'],
        (2.5e-5, 1e-4): ['backbone.patch_embed.weight',
                         'localization_head.init_proposal_bboxes.weight',
                         'localization_head.init_proposal_features.weight', 'neck.weight'],
        (2.5e-5, 0.): ['backbone.norm.bias', 'backbone.norm.weight',
                       'backbone.patch_embed.bias', 'backbone.q_bias', 'neck.bias'],
    }


def test_configurable_and_rejects_unknown_keys():
    groups = build(dict(head_lr_mult=2., base_rate_names=(), head_prefixes=('roi_head.', )))
    assert 'localization_head.init_proposal_bboxes.weight' in groups[(2.5e-5, 1e-4)]
    assert groups[(5e-5, 1e-4)] == ['roi_head.proj.weight']
    with pytest.raises(ValueError, match='head_lr_mul'):
        build(dict(head_lr_mul=8))
