"""The CPU paths of the pruning blocks equal the portable path (fused attention, then the chunked
recomputation of the scores): in training the logsumexp path (fused attention whose row
logsumexps give the scores) in outputs, scores, kept tokens and gradients; in inference the
one-pass path (output and scores from one chunked explicit attention) in outputs (to float
rounding), scores and kept tokens."""
from unittest import mock

import pytest
import torch

from mmevad.models.backbones import TokenPruningViT
from mmevad.models.layers import QVBiasAttention, attention
from mmevad.models.layers.attention import (attention_and_importance, keyframe_importance_eager,
                                            keyframe_importance_from_lse, portable_importance)
from mmevad.models.layers.transformer_block import TransformerBlock


def _randomize_(module, std=0.5):
    with torch.no_grad():
        for param in module.parameters():
            param.normal_(0., std)
    return module


def _lse(q, k, scale):
    return torch.logsumexp(scale * q @ k.transpose(-2, -1), dim=-1)


@pytest.mark.parametrize('enhanced_weight', [1., 4., 0.25])
@pytest.mark.parametrize('logit_std', [1., 12.])
def test_scores_from_lse_equal_recomputed_scores(enhanced_weight, logit_std):
    # logit_std 12: saturated softmaxes (|logits| up to ~50), like a trained ViT's sharp heads
    torch.manual_seed(0)
    head_dims, scale = 8, 8**-0.5
    q, k = torch.randn(2, 2, 3, 40, head_dims, dtype=torch.float64)
    q = q * logit_std / (head_dims**0.5 * scale) ** 0.5
    k = k * logit_std / (head_dims**0.5 * scale) ** 0.5
    expected = keyframe_importance_eager(q, k, 10, enhanced_weight, scale)
    score = keyframe_importance_from_lse(q, k, _lse(q, k, scale), 10, enhanced_weight, scale)
    assert score.shape == (2, 30) and score.dtype == torch.float64
    torch.testing.assert_close(score, expected, rtol=1e-10, atol=1e-300)
    # float32: the error is that of float32 logits, about eps * |largest logit| relative to the
    # largest score (the bias -lse/scale rides in the matrix product); kept tokens identical
    q32, k32 = q.float(), k.float()
    score32 = keyframe_importance_from_lse(q32, k32, _lse(q32, k32, scale), 10, enhanced_weight,
                                           scale)
    expected32 = keyframe_importance_eager(q32, k32, 10, enhanced_weight, scale)
    max_logit = (scale * q32 @ k32.transpose(-2, -1)).abs().max()
    torch.testing.assert_close(
        score32, expected32, rtol=1e-5, atol=float(4e-7 * max_logit * expected32.max()))
    assert torch.equal(score32.topk(12).indices, expected32.topk(12).indices)


@pytest.mark.parametrize('threads', [1, 2, 4])
@pytest.mark.parametrize('enhanced_weight', [1., 4.])
@pytest.mark.parametrize('small_chunks', [False, True])
def test_one_pass_equals_fused_attention_and_recomputed_scores(threads, enhanced_weight,
                                                               small_chunks, monkeypatch):
    # 300 query rows: three row chunks, the last one partial; 2 x 3 heads: head groups of 1, 2
    # and 4 (the last one partial) with 1, 2 and 4 threads, or of one head where the element
    # cap allows no more (many-core machines)
    if small_chunks:
        monkeypatch.setattr(attention, '_CHUNK_ELEMENTS', 128 * 300)
    torch.manual_seed(4)
    scale = 8**-0.5
    q, k, v = torch.randn(3, 2, 3, 300, 8, dtype=torch.float64)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        out, score = attention_and_importance(q, k, v, 36, enhanced_weight, scale)
        out32, score32 = attention_and_importance(q.float(), k.float(), v.float(), 36,
                                                  enhanced_weight, scale)
    finally:
        torch.set_num_threads(previous)
    expected_out = torch.nn.functional.scaled_dot_product_attention(q, k, v, scale=scale)
    expected_score = keyframe_importance_eager(q, k, 36, enhanced_weight, scale)
    assert out.shape == q.shape and score.shape == (2, 264) and score.dtype == torch.float64
    torch.testing.assert_close(out, expected_out, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(score, expected_score, rtol=1e-12, atol=0)
    torch.testing.assert_close(out32, expected_out.float(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(score32, expected_score.float(), rtol=1e-5, atol=0)


def _attention_pair():
    torch.manual_seed(1)
    attn = _randomize_(QVBiasAttention(32, num_heads=4))
    return attn


def test_lse_path_is_taken_on_cpu_only_where_it_applies():
    attn = _attention_pair()
    x = torch.randn(2, 24, 32)
    spy = mock.Mock(wraps=attention.keyframe_importance)
    with mock.patch.object(attention, 'keyframe_importance', spy):
        attn.forward_and_importance(x, 8, 2.)
        assert spy.call_count == 0  # CPU, float32: logsumexp path
        with portable_importance():
            attn.forward_and_importance(x, 8, 2.)
        assert spy.call_count == 1
        attn.forward_and_importance(x, 8, 0.)  # log(0): no logsumexp form
        assert spy.call_count == 2
        with torch.autocast('cpu', dtype=torch.bfloat16):  # half-precision logsumexps
            attn.forward_and_importance(x, 8, 2.)
        assert spy.call_count == 3
        attn.attn_drop.p = 0.1
        attn.train()
        attn.forward_and_importance(x, 8, 2.)
        assert spy.call_count == 4
    # the context restores the default
    with mock.patch.object(attention, 'keyframe_importance', spy):
        attn.eval()
        attn.forward_and_importance(x, 8, 2.)
        assert spy.call_count == 4


def test_inference_takes_the_one_pass_path_and_training_the_lse_path():
    attn = _attention_pair().eval()
    x = torch.randn(2, 24, 32)
    spy = mock.Mock(wraps=attention.attention_and_importance)
    with mock.patch.object(attention, 'attention_and_importance', spy):
        with torch.no_grad():
            out, score = attn.forward_and_importance(x, 8, 2.)
        assert spy.call_count == 1
        attn.forward_and_importance(x, 8, 2.)  # gradients wanted: fused kernel, lse scores
        assert spy.call_count == 1
        with torch.no_grad(), portable_importance():
            out_ref, score_ref = attn.forward_and_importance(x, 8, 2.)
        assert spy.call_count == 1
    # float32 rounding of another summation order, relative to the largest output
    torch.testing.assert_close(out, out_ref, rtol=1e-5, atol=float(1e-6 * out_ref.abs().max()))
    torch.testing.assert_close(score, score_ref, rtol=2e-5, atol=0)


def test_lse_path_output_scores_and_gradients_equal_portable_path():
    attn = _attention_pair().train()
    x = torch.randn(2, 24, 32)
    runs = []
    for portable in (False, True):
        inp = x.clone().requires_grad_()
        with torch.enable_grad():
            if portable:
                with portable_importance():
                    out, score = attn.forward_and_importance(inp, 8, 3.)
            else:
                out, score = attn.forward_and_importance(inp, 8, 3.)
            grads = torch.autograd.grad(out.square().sum(), [inp, *attn.parameters()])
        runs.append((out, score, grads))
    (out, score, grads), (out_ref, score_ref, grads_ref) = runs
    # the same kernel computes the output: bit-identical, also its backward
    assert torch.equal(out, out_ref)
    for grad, grad_ref in zip(grads, grads_ref):
        assert torch.equal(grad, grad_ref)
    assert not score.requires_grad
    torch.testing.assert_close(score, score_ref, rtol=2e-5, atol=0)
    assert torch.equal(score.topk(10).indices, score_ref.topk(10).indices)


def test_with_cp_recomputation_through_lse_path_gives_same_gradients():
    torch.manual_seed(2)
    plain = TransformerBlock(32, 4)
    _randomize_(plain, 0.2)
    cp_block = TransformerBlock(32, 4, with_cp=True)
    cp_block.load_state_dict(plain.state_dict())
    x = torch.randn(2, 24, 32)
    results = []
    for block, portable in ((plain, True), (cp_block, False), (plain, False)):
        inp = x.clone().requires_grad_()
        if portable:
            with portable_importance():
                state, score = block.attention_residual_and_importance(inp, 8, 2.)
        else:
            state, score = block.attention_residual_and_importance(inp, 8, 2.)
        grads = torch.autograd.grad(block.mlp_residual(state).square().sum(),
                                    [inp, *block.parameters()])
        results.append((state, score, grads))
    reference = results[0]
    for state, score, grads in results[1:]:
        assert torch.equal(state, reference[0])
        torch.testing.assert_close(score, reference[1], rtol=2e-5, atol=0)
        for grad, grad_ref in zip(grads, reference[2]):
            torch.testing.assert_close(grad, grad_ref, rtol=1e-6, atol=1e-6)


def _backbone(**kwargs):
    torch.manual_seed(3)
    model = TokenPruningViT(
        img_size=64, embed_dims=32, depth=4, num_heads=2, num_frames=8,
        keep_rates=(1., .7, 1., .6), enhanced_weight=4., feature_taps=(0, 1, 2, 3), **kwargs)
    return _randomize_(model, 0.1).eval()


@pytest.mark.parametrize('inference', [True, False])
def test_backbone_keeps_the_same_tokens_on_both_paths(inference):
    # inference: the one-pass path, equal to float rounding; with gradients: the lse path, whose
    # outputs come from the same fused kernel, bit-identical
    model = _backbone()
    clip = torch.randn(2, 3, 8, 64, 64)
    with torch.set_grad_enabled(not inference):
        fast = model(clip)
        with portable_importance():
            reference = model(clip)
    assert torch.equal(fast.kept_index, reference.kept_index)
    tolerance = dict(rtol=1e-5, atol=1e-6) if inference else dict(rtol=0, atol=0)
    torch.testing.assert_close(fast.tokens, reference.tokens, **tolerance)
    for feat, feat_ref in zip(fast.keyframe_feats, reference.keyframe_feats):
        torch.testing.assert_close(feat, feat_ref, **tolerance)


def test_tied_tokens_are_kept_in_the_same_order():
    # a clip whose frames are all equal: every non-keyframe token of a position ties with the
    # same position in the other slots, so only the tie-break decides what is kept
    model = _backbone()
    model.pos_embed.zero_()  # no position code: equal frames give equal tokens
    clip = torch.randn(1, 3, 1, 64, 64).expand(-1, -1, 8, -1, -1).contiguous()
    with torch.no_grad():
        fast = model(clip)
        with portable_importance():
            reference = model(clip)
    assert torch.equal(fast.kept_index, reference.kept_index)
