from unittest import mock

import torch

from mmevad.models.layers import TransformerBlock, keyframe_importance


def _block(**kwargs):
    torch.manual_seed(0)
    block = TransformerBlock(32, 4, **kwargs)
    with torch.no_grad():
        for param in block.parameters():
            param.normal_(0., 0.3)
    return block


def _grads(block, x, run):
    x = x.clone().requires_grad_()
    out = run(block, x)
    outputs = out if isinstance(out, tuple) else (out, )
    outputs[0].square().sum().backward()
    grads = {
        name: param.grad.clone()
        for name, param in block.named_parameters() if param.grad is not None
    }
    block.zero_grad()
    return outputs, x.grad, grads


def test_block_matches_mmaction_videomae_block():
    from mmaction.models.backbones.vit_mae import Block
    ours = _block()
    theirs = Block(32, 4)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 10, 32)
    torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours(x), ours.mlp_residual(ours.attention_residual(x)))


def test_attention_residual_and_importance():
    block = _block()
    x = torch.randn(2, 12, 32)
    state, score = block.attention_residual_and_importance(x, 4, 3.)
    torch.testing.assert_close(state, block.attention_residual(x))
    q, k, _ = block.attn.qkv_heads(block.norm1(x))
    torch.testing.assert_close(score, keyframe_importance(q, k, 4, 3., block.attn.scale))


def test_with_cp_same_outputs_and_grads():
    x = torch.randn(2, 12, 32)
    plain, cp_block = _block(), _block(with_cp=True)
    for run in (lambda b, x: b(x),
                lambda b, x: b.attention_residual_and_importance(x, 4, 2.)):
        outs, x_grad, grads = _grads(plain, x, run)
        outs_cp, x_grad_cp, grads_cp = _grads(cp_block, x, run)
        for out, out_cp in zip(outs, outs_cp):
            torch.testing.assert_close(out, out_cp, rtol=0, atol=0)
        torch.testing.assert_close(x_grad, x_grad_cp, rtol=1e-6, atol=1e-6)
        assert grads.keys() == grads_cp.keys()
        for name in grads:
            torch.testing.assert_close(grads[name], grads_cp[name], rtol=1e-6, atol=1e-6,
                                       msg=f'gradient of {name} differs with with_cp')


def test_with_cp_scores_are_not_recomputed_in_backward():
    block = _block(with_cp=True)
    x = torch.randn(2, 12, 32, requires_grad=True)
    spy = mock.Mock(wraps=block.attn.forward_and_importance)
    with mock.patch.object(block.attn, 'forward_and_importance', spy):
        state, _ = block.attention_residual_and_importance(x, 4, 1.)
        block.mlp_residual(state).sum().backward()
    assert spy.call_count == 1
    assert x.grad is not None
