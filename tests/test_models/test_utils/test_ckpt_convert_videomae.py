"""VideoMAE / VideoMAE V2 -> TokenPruningViT conversion, on fake checkpoints with the original
key names (MCG-NJU/VideoMAE ``modeling_finetune`` / ``modeling_pretrain``) and tiny shapes."""
import argparse
import os
import os.path as osp
import subprocess
import sys
import warnings
from collections import OrderedDict

import pytest
import torch
from _utils import ROOT, TINY_TPVIT, TPVIT_B_MODEL

from mmevad.models import TokenPruningViT
from mmevad.models.utils.ckpt_convert import (VIDEOMAE_DECODER_KEY, convert_videomae,
                                              load_source_checkpoint, unwrap_videomae_checkpoint)

TINY = TINY_TPVIT
C, DEPTH = TINY['embed_dims'], TINY['depth']  # encoder width, blocks
HIDDEN, DEC = 4 * C, 16  # MLP width, decoder width


def _block(prefix, width, hidden):
    """Original VideoMAE block parameters (timm-style names)."""
    return OrderedDict([
        (f'{prefix}norm1.weight', torch.randn(width)),
        (f'{prefix}norm1.bias', torch.randn(width)),
        (f'{prefix}attn.q_bias', torch.randn(width)),
        (f'{prefix}attn.v_bias', torch.randn(width)),
        (f'{prefix}attn.qkv.weight', torch.randn(3 * width, width)),
        (f'{prefix}attn.proj.weight', torch.randn(width, width)),
        (f'{prefix}attn.proj.bias', torch.randn(width)),
        (f'{prefix}norm2.weight', torch.randn(width)),
        (f'{prefix}norm2.bias', torch.randn(width)),
        (f'{prefix}mlp.fc1.weight', torch.randn(hidden, width)),
        (f'{prefix}mlp.fc1.bias', torch.randn(hidden)),
        (f'{prefix}mlp.fc2.weight', torch.randn(width, hidden)),
        (f'{prefix}mlp.fc2.bias', torch.randn(width)),
    ])


def _encoder(prefix=''):
    state = OrderedDict([(f'{prefix}patch_embed.proj.weight', torch.randn(C, 3, 2, 16, 16)),
                         (f'{prefix}patch_embed.proj.bias', torch.randn(C))])
    for i in range(DEPTH):
        state.update(_block(f'{prefix}blocks.{i}.', C, HIDDEN))
    return state


def finetuned_checkpoint():
    """A fine-tuned classifier: mean pooling (fc_norm) and a 400-way head."""
    torch.manual_seed(0)
    state = _encoder()
    state.update([('fc_norm.weight', torch.randn(C)), ('fc_norm.bias', torch.randn(C)),
                  ('head.weight', torch.randn(400, C)), ('head.bias', torch.randn(400))])
    return {'module': state}


def pretraining_checkpoint():
    """A MAE pre-training checkpoint: encoder, encoder_to_decoder, mask token, decoder."""
    torch.manual_seed(1)
    state = _encoder('encoder.')
    state.update([('encoder.norm.weight', torch.randn(C)), ('encoder.norm.bias', torch.randn(C))])
    for i in range(2):
        state.update(_block(f'decoder.blocks.{i}.', DEC, 4 * DEC))
    state.update([('decoder.norm.weight', torch.randn(DEC)),
                  ('decoder.norm.bias', torch.randn(DEC)),
                  ('decoder.head.weight', torch.randn(1536, DEC)),
                  ('decoder.head.bias', torch.randn(1536)),
                  ('encoder_to_decoder.weight', torch.randn(DEC, C)),
                  ('mask_token', torch.randn(1, 1, DEC))])
    return {'model': state, 'epoch': 799}


def _backbone_weights(conversion):
    return {k[len('backbone.'):]: v for k, v in conversion.state_dict.items()}


def test_finetuned_checkpoint():
    source = finetuned_checkpoint()
    conversion = convert_videomae(source)
    assert all(key.startswith('backbone.') for key in conversion.state_dict)
    assert not conversion.decoder_state_dict
    assert sorted(conversion.report.dropped) == ['fc_norm.bias', 'fc_norm.weight', 'head.bias',
                                                 'head.weight']
    assert conversion.report.unknown == []
    # the final norm is not in a mean-pooling checkpoint: it starts at (1, 0)
    # (docs/algorithm.md#initialization)
    assert conversion.missing == ['backbone.norm.weight', 'backbone.norm.bias']

    model = TokenPruningViT(**TINY)
    result = model.load_state_dict(_backbone_weights(conversion), strict=False)
    assert result.unexpected_keys == []
    assert result.missing_keys == ['norm.weight', 'norm.bias']
    state, weights = model.state_dict(), source['module']
    torch.testing.assert_close(state['patch_embed.projection.weight'],
                               weights['patch_embed.proj.weight'])
    torch.testing.assert_close(state['blocks.1.mlp.layers.0.0.weight'],
                               weights['blocks.1.mlp.fc1.weight'])
    torch.testing.assert_close(state['blocks.1.mlp.layers.1.bias'],
                               weights['blocks.1.mlp.fc2.bias'])
    torch.testing.assert_close(state['blocks.0.attn.q_bias'], weights['blocks.0.attn.q_bias'])
    assert conversion.report.renamed['blocks.0.attn.qkv.weight'] == (
        'backbone.blocks.0.attn.qkv.weight')


def test_pretraining_checkpoint_keeps_the_decoder_apart():
    source = pretraining_checkpoint()
    conversion = convert_videomae(source)
    assert conversion.missing == []
    model = TokenPruningViT(**TINY)
    model.load_state_dict(_backbone_weights(conversion), strict=True)
    torch.testing.assert_close(model.state_dict()['norm.weight'],
                               source['model']['encoder.norm.weight'])
    decoder = conversion.decoder_state_dict
    assert 'decoder.blocks.1.attn.qkv.weight' in decoder
    assert {'encoder_to_decoder.weight', 'mask_token', 'decoder.norm.weight',
            'decoder.head.weight'} <= decoder.keys()
    assert len(decoder) == 2 * 13 + 6
    assert decoder['encoder_to_decoder.weight'] is source['model']['encoder_to_decoder.weight']
    assert not any(key.startswith('backbone.') for key in decoder)


def test_unknown_keys_are_named():
    source = finetuned_checkpoint()
    source['module']['blocks.0.attn.relative_position_bias_table'] = torch.zeros(3)
    source['module']['cls_token'] = torch.zeros(1, 1, C)
    with pytest.raises(KeyError, match='(?s)2 key.*relative_position_bias_table.*cls_token'):
        convert_videomae(source)


def test_missing_keys_are_named():
    source = finetuned_checkpoint()
    del source['module']['blocks.1.attn.proj.bias']
    del source['module']['patch_embed.proj.bias']
    missing = convert_videomae(source).missing
    assert 'backbone.blocks.1.attn.proj.bias' in missing
    assert 'backbone.patch_embed.projection.bias' in missing


def test_pos_embed_is_dropped():
    source = finetuned_checkpoint()
    source['module']['pos_embed'] = torch.zeros(1, 4 * 16, C)
    report = convert_videomae(source).report
    assert 'pos_embed' in report.dropped


def test_layer_scale_is_refused():
    source = finetuned_checkpoint()
    source['module']['blocks.0.gamma_1'] = torch.ones(C)
    with pytest.raises(ValueError, match='layer scale'):
        convert_videomae(source)


def test_encoder_and_plain_blocks_together_are_ambiguous():
    source = pretraining_checkpoint()['model']
    source['blocks.0.norm1.weight'] = torch.ones(C)
    with pytest.raises(KeyError, match='both convert to'):
        convert_videomae(source)


def test_unwrap():
    state = finetuned_checkpoint()['module']
    assert unwrap_videomae_checkpoint({'model': state}) is state
    assert unwrap_videomae_checkpoint({'module': state}) is state
    assert unwrap_videomae_checkpoint(state) is state
    with pytest.raises(KeyError, match='no VideoMAE weights found'):
        unwrap_videomae_checkpoint({'state_dict': state, 'meta': {}})


def test_converter_cli_saves_and_verifies(tmp_path):
    src, dst = tmp_path / 'videomae_pretrain.pth', tmp_path / 'converted.pth'
    torch.save(pretraining_checkpoint(), src)
    config = tmp_path / 'tiny_backbone.py'
    config.write_text(f'_base_ = [{TPVIT_B_MODEL!r}]\nmodel = dict(backbone={TINY!r})\n')
    done = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'model_converters', 'videomae_to_mmevad.py'),
         str(src), str(dst), '--verify', str(config)],
        capture_output=True, text=True, cwd=ROOT,
        env={**os.environ, 'PYTHONPATH': os.pathsep.join([ROOT, os.environ.get('PYTHONPATH', '')])})
    assert done.returncode == 0, done.stderr
    assert 'verified against' in done.stdout
    saved = torch.load(dst, weights_only=True)
    expected = convert_videomae(pretraining_checkpoint()).state_dict
    assert saved['state_dict'].keys() == expected.keys()
    assert 'decoder.blocks.0.norm1.weight' in saved[VIDEOMAE_DECODER_KEY]
    assert saved['meta']['missing'] == []


def test_converted_weights_load_through_a_detectors_pretrained_init(tmp_path):
    from mmengine.model import BaseModule

    conversion = convert_videomae(pretraining_checkpoint())
    path = tmp_path / 'converted.pth'
    torch.save({'state_dict': conversion.state_dict}, path)

    class Detector(BaseModule):

        def __init__(self):
            super().__init__(init_cfg=dict(type='Pretrained', checkpoint=str(path)))
            self.backbone = TokenPruningViT(**TINY)

    detector = Detector()
    detector.init_weights()
    state = detector.state_dict()
    for key, value in conversion.state_dict.items():
        torch.testing.assert_close(state[key], value, msg=f'{key} was not loaded')


def test_checkpoint_with_pickled_objects_loads_with_a_warning(tmp_path):
    """Original VideoMAE files pickle their training arguments: loaded, but with a warning (not
    a print) that the file could run code."""
    path = str(tmp_path / 'with_args.pth')
    torch.save({'model': {'w': torch.ones(2)}, 'args': argparse.Namespace(lr=1e-3)}, path)
    with pytest.warns(UserWarning, match='weights_only=False'):
        checkpoint = load_source_checkpoint(path)
    assert torch.equal(checkpoint['model']['w'], torch.ones(2))
    assert checkpoint['args'].lr == 1e-3

    plain = str(tmp_path / 'tensors.pth')
    torch.save({'model': {'w': torch.ones(2)}}, plain)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert torch.equal(load_source_checkpoint(plain)['model']['w'], torch.ones(2))
