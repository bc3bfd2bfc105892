"""Key maps of the RoI head: official EVAD and VideoMAE decoder."""
import pytest
import torch

from mmevad.models.roi_heads import ContextRefinementRoIHead
from mmevad.models.utils.ckpt_convert import (OFFICIAL_EVAD_ROI_HEAD_RULES,
                                              convert_official_evad_roi_head,
                                              convert_videomae_decoder)


def official_head_shapes(ce, cd, depth, hidden=2048, classes=80):
    """Names and shapes of the official EVAD head entries, written from the official layout
    (ViT-B: Ce 768, Cd 384, 6 blocks; ViT-L: 1024, 512, 12), not read from our modules."""
    shapes = {'det_head.mask_token': (1, 1, cd), 'det_head.encoder_to_decoder.weight': (cd, ce)}
    for i in range(depth):
        block = f'det_head.decoder.blocks.{i}.'
        shapes.update({
            block + 'norm1.weight': (cd,), block + 'norm1.bias': (cd,),
            block + 'attn.q_bias': (cd,), block + 'attn.v_bias': (cd,),
            block + 'attn.qkv.weight': (3 * cd, cd),
            block + 'attn.proj.weight': (cd, cd), block + 'attn.proj.bias': (cd,),
            block + 'norm2.weight': (cd,), block + 'norm2.bias': (cd,),
            block + 'mlp.fc1.weight': (4 * cd, cd), block + 'mlp.fc1.bias': (4 * cd,),
            block + 'mlp.fc2.weight': (cd, 4 * cd), block + 'mlp.fc2.bias': (cd,),
            block + 'act_module.0.weight': (hidden, cd),
            block + 'act_module.1.weight': (hidden,), block + 'act_module.1.bias': (hidden,),
            block + 'action_logits.weight': (classes, hidden),
            block + 'action_logits.bias': (classes,),
        })
    return shapes


OTHER_SECTIONS = {  # keys of other modules in the same official checkpoint
    'patch_embed.proj.weight': (4, 3, 2, 16, 16), 'blocks.0.norm1.weight': (4,),
    'det_head.s0_headseries.0.cls_module.0.weight': (4, 4), 'fpn_lateral2.weight': (4, 4, 1, 1),
    'init_proposal_boxes.weight': (100, 4), 'criterion.empty_weight': (2,)
}

EXPECTED_PLACES = {  # official suffix of block i -> our name relative to the head
    'norm1.weight': 'decoder.blocks.{i}.norm1.weight',
    'attn.qkv.weight': 'decoder.blocks.{i}.attn.qkv.weight',
    'attn.q_bias': 'decoder.blocks.{i}.attn.q_bias',
    'attn.proj.bias': 'decoder.blocks.{i}.attn.proj.bias',
    'norm2.bias': 'decoder.blocks.{i}.norm2.bias',
    'mlp.fc1.weight': 'decoder.blocks.{i}.mlp.layers.0.0.weight',
    'mlp.fc2.bias': 'decoder.blocks.{i}.mlp.layers.1.bias',
    'act_module.0.weight': 'decoder.action_heads.{i}.fc.weight',
    'act_module.1.weight': 'decoder.action_heads.{i}.norm.weight',
    'action_logits.weight': 'decoder.action_heads.{i}.fc_cls.weight',
    'action_logits.bias': 'decoder.action_heads.{i}.fc_cls.bias',
}


def test_official_tiny_head_converts_and_loads_strictly():
    torch.manual_seed(0)
    shapes = official_head_shapes(ce=24, cd=16, depth=2, hidden=12, classes=5)
    official = {name: torch.randn(shape) for name, shape in shapes.items()}
    official.update({name: torch.randn(shape) for name, shape in OTHER_SECTIONS.items()})

    converted, report = convert_official_evad_roi_head(official)
    report.raise_for_unknown()
    assert len(converted) == len(shapes)
    head = ContextRefinementRoIHead(in_channels=24, embed_dims=16, depth=2, num_heads=2,
                                    num_classes=5, action_hidden_dims=12)
    head.load_state_dict(converted, strict=True)

    own = head.state_dict()
    assert torch.equal(own['mask_token'], official['det_head.mask_token'])
    assert torch.equal(own['encoder_to_decoder.weight'],
                       official['det_head.encoder_to_decoder.weight'])
    for i in range(2):
        for suffix, place in EXPECTED_PLACES.items():
            assert torch.equal(own[place.format(i=i)],
                               official[f'det_head.decoder.blocks.{i}.{suffix}']), suffix


@pytest.mark.parametrize('ce,cd,depth,heads', [(768, 384, 6, 6), (1024, 512, 12, 8)])
def test_released_shapes_load_into_the_default_heads(ce, cd, depth, heads):
    """ViT-B / ViT-L official shapes fit our ViT-B / ViT-L heads (meta tensors: no memory)."""
    official = {name: torch.empty(shape, device='meta')
                for name, shape in official_head_shapes(ce, cd, depth).items()}
    converted, report = convert_official_evad_roi_head(official)
    assert not report.unknown and not report.dropped
    with torch.device('meta'):
        head = ContextRefinementRoIHead(in_channels=ce, embed_dims=cd, depth=depth,
                                        num_heads=heads)
    head.load_state_dict(converted, strict=True, assign=True)


def test_unknown_head_key_is_reported_by_name():
    official = {'det_head.decoder.blocks.0.layer_scale': torch.zeros(2),
                'det_head.mask_token': torch.zeros(1, 1, 2)}
    _, report = convert_official_evad_roi_head(official)
    assert report.unknown == ['det_head.decoder.blocks.0.layer_scale']
    with pytest.raises(KeyError, match='layer_scale'):
        report.raise_for_unknown()


def test_rules_can_be_prefixed_by_the_detector():
    """The EVAD detector composes the section with its attribute name."""
    from mmevad.models.utils.ckpt_convert import convert_state_dict
    rules = [(pattern, 'roi_head.' + repl) for pattern, repl in OFFICIAL_EVAD_ROI_HEAD_RULES]
    out, _ = convert_state_dict({'det_head.decoder.blocks.3.mlp.fc2.weight': torch.zeros(1)},
                                rules)
    assert list(out) == ['roi_head.decoder.blocks.3.mlp.layers.1.weight']


def test_videomae_pretrain_decoder_keys():
    names = ['encoder.patch_embed.proj.weight', 'encoder.blocks.0.attn.qkv.weight',
             'encoder.norm.weight', 'encoder_to_decoder.weight', 'mask_token',
             'decoder.blocks.0.norm1.weight', 'decoder.blocks.0.attn.v_bias',
             'decoder.blocks.1.mlp.fc1.bias', 'decoder.blocks.1.mlp.fc2.weight',
             'decoder.norm.weight', 'decoder.head.weight', 'decoder.head.bias']
    out, report = convert_videomae_decoder({n: torch.zeros(1) for n in names})
    assert list(out) == ['encoder_to_decoder.weight', 'decoder.blocks.0.norm1.weight',
                         'decoder.blocks.0.attn.v_bias', 'decoder.blocks.1.mlp.layers.0.0.bias',
                         'decoder.blocks.1.mlp.layers.1.weight']
    assert sorted(report.dropped) == sorted(set(names) - set(report.renamed))
    assert not report.unknown


def test_vit_b_config_fragment_fits_the_released_weights():
    from _utils import EVAD_VIT_B_MODEL, model_cfg
    from mmaction.registry import MODELS
    cfg = model_cfg(EVAD_VIT_B_MODEL).roi_head
    official = {name: torch.empty(shape, device='meta')
                for name, shape in official_head_shapes(768, 384, 6).items()}
    converted, _ = convert_official_evad_roi_head(official)
    with torch.device('meta'):
        head = MODELS.build(cfg)
    head.load_state_dict(converted, strict=True, assign=True)
    assert head.roi_extension == (0.4, 0.2) and head.action_loss_weight == 12
