"""Official EVAD keys -> QueryLocalizationHead + mmdet FPN (ckpt_convert/official_evad.py).

The fake checkpoint uses the official names (those ckpt_convert maps) with tiny shapes written
from the official layout, not read from our modules.
"""
import math
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn
from _utils import tiny_localization_cfgs
from mmengine.structures import InstanceData

from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmevad.models.utils.ckpt_convert import (OFFICIAL_EVAD_FPN_RULES,
                                              OFFICIAL_EVAD_LOCALIZATION_HEAD_RULES,
                                              convert_state_dict)

C, C_IN, DYN, FFN, P, STAGES = 32, 24, 16, 64, 4, 2  # official: 256, 768, 64, 2048, 100, 6


def official_state_dict(seed=0):
    """Official EVAD names of the localization branch, tiny shapes, distinct random values."""
    shapes = OrderedDict()
    for s in range(STAGES):
        stage = f'det_head.s0_headseries.{s}.'
        shapes.update({
            stage + 'self_attn.in_proj_weight': (3 * C, C),
            stage + 'self_attn.in_proj_bias': (3 * C, ),
            stage + 'self_attn.out_proj.weight': (C, C),
            stage + 'self_attn.out_proj.bias': (C, ),
            stage + 'inst_interact.dynamic_layer.weight': (2 * C * DYN, C),
            stage + 'inst_interact.dynamic_layer.bias': (2 * C * DYN, ),
            stage + 'inst_interact.norm1.weight': (DYN, ),
            stage + 'inst_interact.norm1.bias': (DYN, ),
            stage + 'inst_interact.norm2.weight': (C, ),
            stage + 'inst_interact.norm2.bias': (C, ),
            stage + 'inst_interact.out_layer.weight': (C, C * 7 * 7),
            stage + 'inst_interact.out_layer.bias': (C, ),
            stage + 'inst_interact.norm3.weight': (C, ),
            stage + 'inst_interact.norm3.bias': (C, ),
            stage + 'linear1.weight': (FFN, C),
            stage + 'linear1.bias': (FFN, ),
            stage + 'linear2.weight': (C, FFN),
            stage + 'linear2.bias': (C, ),
        })
        for norm in ('norm1', 'norm2', 'norm3'):
            shapes.update({stage + f'{norm}.weight': (C, ), stage + f'{norm}.bias': (C, )})
        # towers: (Linear without bias, LayerNorm, ReLU) x 1 for class, x 3 for boxes
        for tower, num_layers in (('cls_module', 1), ('reg_module', 3)):
            for layer in range(num_layers):
                shapes[stage + f'{tower}.{3 * layer}.weight'] = (C, C)
                shapes[stage + f'{tower}.{3 * layer + 1}.weight'] = (C, )
                shapes[stage + f'{tower}.{3 * layer + 1}.bias'] = (C, )
        shapes.update({
            stage + 'class_logits.weight': (2, C),
            stage + 'class_logits.bias': (2, ),
            stage + 'bboxes_delta.weight': (4, C),
            stage + 'bboxes_delta.bias': (4, ),
        })
    for level in range(2, 6):
        shapes.update({
            f'fpn_lateral{level}.weight': (C, C_IN, 1, 1),
            f'fpn_lateral{level}.bias': (C, ),
            f'fpn_output{level}.weight': (C, C, 3, 3),
            f'fpn_output{level}.bias': (C, ),
        })
    shapes.update({'init_proposal_features.weight': (P, C), 'init_proposal_boxes.weight': (P, 4)})
    gen = torch.Generator().manual_seed(seed)
    state_dict = OrderedDict((k, torch.randn(shape, generator=gen)) for k, shape in shapes.items())
    state_dict['criterion.empty_weight'] = torch.tensor([1.0, 0.1])
    return state_dict


def tiny_neck_and_head():
    neck, head = tiny_localization_cfgs(
        channels=C, in_channels=C_IN, num_stages=STAGES, num_proposals=P,
        feedforward_channels=FFN, dynamic_channels=DYN, num_heads=2)
    return MODELS.build(neck), MODELS.build(head)


def prefixed(rules, prefix):
    """A rule table relative to a submodule, as the detector composes it."""
    return [(pattern, None if repl is None else prefix + repl) for pattern, repl in rules]


def test_every_official_key_is_placed_once_and_loads_strictly():
    official = official_state_dict()
    neck, head = tiny_neck_and_head()

    head_sd, head_report = convert_state_dict(official, OFFICIAL_EVAD_LOCALIZATION_HEAD_RULES)
    neck_sd, neck_report = convert_state_dict(official, OFFICIAL_EVAD_FPN_RULES)

    # the two tables split the official keys without overlap or leftovers
    assert set(head_report.unknown) == set(neck_report.renamed)
    assert set(neck_report.unknown) == set(head_report.renamed) | set(head_report.dropped)
    assert list(head_report.dropped) == ['criterion.empty_weight']
    head.load_state_dict(head_sd, strict=True)
    neck.load_state_dict(neck_sd, strict=True)

    # a few tensors in the right place
    stage0, stage1 = head.bbox_head[0], head.bbox_head[1]
    src = 'det_head.s0_headseries.{}.{}'.format
    assert torch.equal(stage1.fc_cls.weight[0], official[src(1, 'class_logits.weight')][0])
    assert torch.equal(stage0.fc_reg.bias, official[src(0, 'bboxes_delta.bias')])
    assert torch.equal(stage0.attention.attn.in_proj_weight,
                       official[src(0, 'self_attn.in_proj_weight')])
    assert torch.equal(stage1.instance_interactive_conv.fc_norm.weight,
                       official[src(1, 'inst_interact.norm3.weight')])
    assert torch.equal(stage1.instance_interactive_conv_norm.bias, official[src(1, 'norm2.bias')])
    assert torch.equal(stage0.ffn.layers[1].weight, official[src(0, 'linear2.weight')])
    assert torch.equal(stage0.reg_fcs[6].weight, official[src(0, 'reg_module.6.weight')])
    assert torch.equal(head.proposal_generator.init_proposal_bboxes.weight,
                       official['init_proposal_boxes.weight'])
    assert torch.equal(neck.lateral_convs[3].conv.weight, official['fpn_lateral5.weight'])
    assert torch.equal(neck.fpn_convs[0].conv.bias, official['fpn_output2.bias'])


def test_tables_compose_with_the_detector_prefixes():
    official = official_state_dict()
    detector = nn.Module()
    detector.neck, detector.localization_head = tiny_neck_and_head()
    rules = (prefixed(OFFICIAL_EVAD_LOCALIZATION_HEAD_RULES, 'localization_head.') +
             prefixed(OFFICIAL_EVAD_FPN_RULES, 'neck.'))
    converted, report = convert_state_dict(official, rules)
    report.raise_for_unknown()
    detector.load_state_dict(converted, strict=True)
    assert len(report.renamed) == len(official) - 1


def test_unknown_key_is_reported():
    official = official_state_dict()
    official['det_head.s0_headseries.0.inst_interact.extra.weight'] = torch.zeros(1)
    _, report = convert_state_dict(official, OFFICIAL_EVAD_LOCALIZATION_HEAD_RULES +
                                   OFFICIAL_EVAD_FPN_RULES)
    assert report.unknown == ['det_head.s0_headseries.0.inst_interact.extra.weight']
    with pytest.raises(KeyError, match='inst_interact.extra'):
        report.raise_for_unknown()


def test_official_class_and_delta_layout_mean_the_same_here():
    """class_logits row 0 is the person; bboxes_delta is (dx, dy, dw, dh) / (2, 2, 1, 1)."""
    official = official_state_dict()
    for s in range(STAGES):
        stage = f'det_head.s0_headseries.{s}.'
        official[stage + 'class_logits.weight'].zero_()
        official[stage + 'class_logits.bias'].copy_(torch.tensor([4.0, -4.0]))
        official[stage + 'bboxes_delta.weight'].zero_()
        official[stage + 'bboxes_delta.bias'].zero_()
    deltas = [0.2, -0.4, math.log(0.5), math.log(0.75)]
    official['det_head.s0_headseries.0.bboxes_delta.bias'].copy_(torch.tensor(deltas))
    official['init_proposal_boxes.weight'].copy_(torch.tensor([[0.5, 0.5, 1.0, 1.0]] * P))
    _, head = tiny_neck_and_head()
    head.load_state_dict(convert_state_dict(official, OFFICIAL_EVAD_LOCALIZATION_HEAD_RULES)[0])
    data_sample = ActionDataSample()
    data_sample.set_metainfo(dict(img_shape=(48, 64)))
    data_sample.gt_instances = InstanceData(bboxes=torch.zeros(0, 4))
    feats = tuple(torch.randn(1, C, 48 // s, 64 // s) for s in (4, 8, 16, 32))

    head.eval()
    with torch.no_grad():
        result = head.predict(feats, [data_sample])[0]

    # official person probability: softmax(class_logits)[0]
    assert torch.allclose(result.scores, torch.full((P, ), 1 / (1 + math.exp(-8.0))))
    # official update from the whole image (0, 0, 64, 48) with weights (2, 2, 1, 1)
    cx, cy = 32 + deltas[0] / 2 * 64, 24 + deltas[1] / 2 * 48
    w, h = 64 * math.exp(deltas[2]), 48 * math.exp(deltas[3])
    # (predict returns the box as predicted: y1 = -3.6 crosses the border, EVAD's output clips it)
    expected = torch.tensor([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    assert torch.allclose(result.bboxes, expected.expand(P, 4), atol=1e-4)
