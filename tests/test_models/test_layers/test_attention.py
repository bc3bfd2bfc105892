import pytest
import torch

from mmevad.models.layers import QVBiasAttention, keyframe_importance


def _randomize_(module, std=0.5):
    """Weights large enough that attention is far from uniform."""
    with torch.no_grad():
        for param in module.parameters():
            param.normal_(0., std)
    return module


def _explicit_importance(q, k, num_keyframe, enhanced_weight, scale):
    """docs/algorithm.md#pruning literally: full map, keyframe rows weighted, mean over queries,
    then heads."""
    attn = ((q * scale) @ k.transpose(-2, -1)).softmax(dim=-1)  # (B, heads, N, N)
    received = attn[..., num_keyframe:].clone()
    received[:, :, :num_keyframe] = received[:, :, :num_keyframe] * enhanced_weight
    return received.mean(dim=2).mean(dim=1)


def _explicit_attention(module, x):
    """Plain-math reference: ``proj(softmax(scale q k^T) v)`` with q/v biases, per head."""
    B, N, C = x.shape
    heads = module.num_heads
    bias = torch.cat((module.q_bias, torch.zeros_like(module.v_bias), module.v_bias))
    q, k, v = (x @ module.qkv.weight.T + bias).reshape(B, N, 3, heads, -1).permute(2, 0, 3, 1, 4)
    attn = ((q * module.scale) @ k.transpose(-2, -1)).softmax(dim=-1)  # (B, heads, N, N)
    return module.proj((attn @ v).transpose(1, 2).reshape(B, N, C))


def test_fused_attention_equals_explicit_math():
    torch.manual_seed(0)
    fused = _randomize_(QVBiasAttention(32, num_heads=4))
    x = torch.randn(2, 24, 32)
    torch.testing.assert_close(fused(x), _explicit_attention(fused, x), rtol=1e-5, atol=1e-5)
    # gradients in float64: saturated softmaxes make float32 gradients too noisy to compare
    fused, x = fused.double(), x.double().requires_grad_()
    grad_fused, = torch.autograd.grad(fused(x).square().sum(), x)
    grad_explicit, = torch.autograd.grad(_explicit_attention(fused, x).square().sum(), x)
    torch.testing.assert_close(grad_fused, grad_explicit, rtol=1e-10, atol=1e-10)


def test_attention_matches_mmaction_videomae_attention():
    from mmaction.models.backbones.vit_mae import Attention
    torch.manual_seed(0)
    ours = _randomize_(QVBiasAttention(32, num_heads=2))
    theirs = Attention(32, num_heads=2)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 10, 32)
    torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('enhanced_weight', [1., 4., 0.])
@pytest.mark.parametrize('chunk_rows', [0, 1, 5, 7, 100])
def test_keyframe_importance_equals_full_attention_formula(enhanced_weight, chunk_rows):
    # chunks of 5 and 7 rows end inside and across the 6 keyframe rows
    torch.manual_seed(1)
    q, k = torch.randn(2, 2, 3, 20, 8, dtype=torch.float64)
    score = keyframe_importance(q, k, 6, enhanced_weight, 8**-0.5, chunk_rows)
    expected = _explicit_importance(q, k, 6, enhanced_weight, 8**-0.5)
    assert score.shape == (2, 14)
    torch.testing.assert_close(score, expected, rtol=1e-12, atol=1e-14)


def test_keyframe_importance_keyframe_weight_matters():
    torch.manual_seed(2)
    q, k = torch.randn(2, 1, 2, 12, 4)
    plain = keyframe_importance(q, k, 4, 1., 0.5)
    enhanced = keyframe_importance(q, k, 4, 4., 0.5)
    assert not torch.allclose(plain, enhanced)
    # with ew = 1 every query counts the same: the scores are mean received attention
    attn = (q * 0.5 @ k.transpose(-2, -1)).softmax(-1)
    torch.testing.assert_close(plain, attn[..., 4:].mean(2).mean(1))


def test_keyframe_importance_half_precision_scores_in_float32():
    q, k = torch.randn(2, 1, 2, 12, 4).to(torch.bfloat16)
    assert keyframe_importance(q, k, 4, 1., 0.5).dtype == torch.float32


def test_forward_and_importance_output_equals_forward():
    torch.manual_seed(3)
    attn = _randomize_(QVBiasAttention(16, num_heads=2))
    x = torch.randn(2, 12, 16)
    out, score = attn.forward_and_importance(x, 4, 2.)
    torch.testing.assert_close(out, attn(x))
    q, k, _ = attn.qkv_heads(x)
    torch.testing.assert_close(score, _explicit_importance(q, k, 4, 2., attn.scale))
    assert not score.requires_grad


def test_indivisible_heads_raise():
    with pytest.raises(ValueError, match='not divisible by num_heads'):
        QVBiasAttention(30, num_heads=4)
