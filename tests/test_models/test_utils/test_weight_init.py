"""Initialising the CRD from a VideoMAE pre-training checkpoint's decoder
(docs/algorithm.md#initialization)."""
import pytest
import torch
from mmaction.registry import MODELS

from mmevad.models.utils import load_videomae_decoder


def pretrain_state(cd=16, ce=24, depth=3, seed=0):
    """A tiny VideoMAE pre-training state dict with the original (not mmaction) names."""
    torch.manual_seed(seed)
    state = {
        'encoder.patch_embed.proj.weight': torch.randn(ce, 3, 2, 16, 16),
        'encoder.blocks.0.norm1.weight': torch.randn(ce),
        'encoder.norm.weight': torch.randn(ce),
        'encoder_to_decoder.weight': torch.randn(cd, ce),
        'mask_token': torch.randn(1, 1, cd),
        'decoder.norm.weight': torch.randn(cd),
        'decoder.norm.bias': torch.randn(cd),
        'decoder.head.weight': torch.randn(1536, cd),
        'decoder.head.bias': torch.randn(1536),
    }
    for i in range(depth):
        b = f'decoder.blocks.{i}.'
        state.update({
            b + 'norm1.weight': torch.randn(cd), b + 'norm1.bias': torch.randn(cd),
            b + 'attn.q_bias': torch.randn(cd), b + 'attn.v_bias': torch.randn(cd),
            b + 'attn.qkv.weight': torch.randn(3 * cd, cd),
            b + 'attn.proj.weight': torch.randn(cd, cd), b + 'attn.proj.bias': torch.randn(cd),
            b + 'norm2.weight': torch.randn(cd), b + 'norm2.bias': torch.randn(cd),
            b + 'mlp.fc1.weight': torch.randn(4 * cd, cd), b + 'mlp.fc1.bias': torch.randn(4 * cd),
            b + 'mlp.fc2.weight': torch.randn(cd, 4 * cd), b + 'mlp.fc2.bias': torch.randn(cd),
        })
    return state


def head_cfg(**kwargs):
    cfg = dict(type='ContextRefinementRoIHead', in_channels=24, embed_dims=16, depth=2,
               num_heads=2, num_classes=5, action_hidden_dims=8)
    cfg.update(kwargs)
    return cfg


def test_init_cfg_loads_the_decoder_after_the_default_init(tmp_path):
    state = pretrain_state(depth=3)  # deeper than the CRD: block 2 has no place
    path = tmp_path / 'videomae_pretrain.pth'
    torch.save({'model': state}, path)
    head = MODELS.build(head_cfg(init_cfg=dict(type='VideoMAEDecoderInit', checkpoint=str(path))))
    head.init_weights()
    own = head.state_dict()
    assert torch.equal(own['encoder_to_decoder.weight'], state['encoder_to_decoder.weight'])
    for i in range(2):
        assert torch.equal(own[f'decoder.blocks.{i}.mlp.layers.0.0.weight'],
                           state[f'decoder.blocks.{i}.mlp.fc1.weight'])
        assert torch.equal(own[f'decoder.blocks.{i}.mlp.layers.1.bias'],
                           state[f'decoder.blocks.{i}.mlp.fc2.bias'])
        assert torch.equal(own[f'decoder.blocks.{i}.attn.q_bias'],
                           state[f'decoder.blocks.{i}.attn.q_bias'])
        assert torch.equal(own[f'decoder.blocks.{i}.norm2.weight'],
                           state[f'decoder.blocks.{i}.norm2.weight'])
    # not in the checkpoint (or not transferred): keep the default init
    assert not torch.equal(own['mask_token'], state['mask_token'])
    assert (own['decoder.action_heads.0.fc_cls.bias'] == 0).all()


def test_report_names_skipped_and_untouched_keys():
    head = MODELS.build(head_cfg())
    head.init_weights()
    before = {k: v.clone() for k, v in head.state_dict().items()}
    report = load_videomae_decoder(head, pretrain_state(depth=3))
    assert 'decoder.blocks.2.attn.qkv.weight' in report['skipped']
    assert 'mask_token' in report['not_loaded']
    assert 'decoder.action_heads.1.fc.weight' in report['not_loaded']
    assert len(report['loaded']) == 1 + 2 * 13
    for key in report['not_loaded']:
        assert torch.equal(head.state_dict()[key], before[key])


def test_unknown_keys_and_wrong_widths_fail_loudly():
    head = MODELS.build(head_cfg())
    state = pretrain_state()
    state['decoder.blocks.0.attn.k_bias'] = torch.zeros(16)
    with pytest.raises(KeyError, match='k_bias'):
        load_videomae_decoder(head, state)
    with pytest.raises(ValueError, match=r'encoder_to_decoder.weight \(32, 24\) does not fit'):
        load_videomae_decoder(head, pretrain_state(cd=32))
