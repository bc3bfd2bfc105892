"""Context refinement decoder with per-layer action heads (docs/algorithm.md#crd)."""
import math

import pytest
import torch
from torch import nn

from mmevad.models.layers.context_refinement_decoder import ActionClsHead, ContextRefinementDecoder


def tiny_decoder(**kwargs):
    cfg = dict(embed_dims=32, depth=3, num_heads=2, num_classes=5, action_hidden_dims=24)
    cfg.update(kwargs)
    decoder = ContextRefinementDecoder(**cfg)
    decoder.init_weights()
    return decoder


def test_one_set_of_logits_per_layer_from_the_actor_tokens():
    torch.manual_seed(0)
    decoder = tiny_decoder().eval()
    context, actors = torch.randn(2, 11, 32), torch.randn(2, 4, 32)
    logits = decoder(context, actors)
    assert len(logits) == 3
    assert all(out.shape == (2, 4, 5) for out in logits)
    # explicit: blocks over context ++ actors, layer j's head on the last 4 tokens, no norm
    x = torch.cat((context, actors), dim=1)
    for block, head, out in zip(decoder.blocks, decoder.action_heads, logits):
        x = block(x)
        assert torch.allclose(out, head(x[:, -4:]), atol=1e-6)


def test_actors_attend_to_context_and_each_other():
    torch.manual_seed(0)
    decoder = tiny_decoder(depth=1).eval()
    context, actors = torch.randn(1, 6, 32), torch.randn(1, 3, 32)
    base = decoder(context, actors)[0]
    context2 = context.clone()
    context2[0, 0] = 10 * torch.randn(32)
    assert (decoder(context2, actors)[0] - base).abs().max() > 1e-3
    actors2 = actors.clone()
    actors2[0, 2] = 10 * torch.randn(32)
    changed = decoder(context, actors2)[0]
    assert (changed[0, 0] - base[0, 0]).abs().max() > 1e-3  # actor 0 sees actor 2


def test_block_and_head_layout():
    decoder = tiny_decoder(depth=4, drop_path_rate=.3)
    rates = [getattr(b.drop_path, 'drop_prob', 0.) for b in decoder.blocks]
    assert rates == pytest.approx([0., .1, .2, .3])
    block = decoder.blocks[0]
    assert block.norm1.eps == 1e-6 and block.norm2.eps == 1e-6
    assert block.attn.q_bias.shape == (32,) and block.attn.qkv.bias is None
    assert block.mlp.layers[0][0].out_features == 128
    head = decoder.action_heads[0]
    assert isinstance(head, ActionClsHead)
    assert head.fc.bias is None and head.fc.out_features == 24
    assert head.norm.eps == 1e-5 and isinstance(head.act, nn.ReLU)
    assert head.fc_cls.out_features == 5
    assert not hasattr(decoder, 'norm')


def test_init_is_xavier_with_zero_biases():
    torch.manual_seed(0)
    decoder = tiny_decoder()
    for name, param in decoder.named_parameters():
        if param.dim() >= 2:
            fan_out, fan_in = param.shape
            bound = math.sqrt(6 / (fan_in + fan_out))
            assert param.abs().max() <= bound, name
            assert param.abs().max() > .5 * bound, name
        elif 'norm' in name and name.endswith('weight'):
            assert (param == 1).all(), name
        else:
            assert (param == 0).all(), name


def test_with_cp_gives_the_same_outputs_and_gradients():
    torch.manual_seed(0)
    plain = tiny_decoder(drop_path_rate=0.)
    ckpt = tiny_decoder(drop_path_rate=0., with_cp=True)
    ckpt.load_state_dict(plain.state_dict())
    context, actors = torch.randn(2, 7, 32), torch.randn(2, 3, 32)
    grads = []
    for decoder in (plain, ckpt):
        decoder.zero_grad()
        inputs = actors.clone().requires_grad_()
        outs = decoder(context, inputs)
        sum(o.square().sum() for o in outs).backward()
        grads.append((torch.cat([o.flatten() for o in outs]), inputs.grad,
                      decoder.blocks[0].attn.qkv.weight.grad))
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-5)


def test_every_parameter_gets_a_gradient_and_no_actors_works():
    decoder = tiny_decoder()
    logits = decoder(torch.randn(2, 5, 32), torch.randn(2, 3, 32))
    sum(out.sum() for out in logits).backward()
    missing = [n for n, p in decoder.named_parameters() if p.grad is None or not p.grad.any()]
    assert not missing, f'no gradient: {missing}'
    empty = decoder(torch.randn(2, 5, 32), torch.zeros(2, 0, 32))
    assert [tuple(o.shape) for o in empty] == [(2, 0, 5)] * 3


def test_depth_zero_is_refused():
    with pytest.raises(ValueError, match='depth'):
        ContextRefinementDecoder(depth=0)
