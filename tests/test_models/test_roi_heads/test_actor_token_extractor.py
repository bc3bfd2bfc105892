"""3-D RoI pooling (docs/algorithm.md#actor-tokens, docs/official_behaviours.md#d16): RoIAlign per
slice, max over space, then mean over time."""
import pytest
import torch
from mmcv.ops import RoIAlign

from mmevad.models.roi_heads import ActorTokenExtractor


def random_rois(n, batch, size):
    torch.manual_seed(1)
    xy = torch.rand(n, 2) * size * .6
    wh = torch.rand(n, 2) * size * .4 + 4
    idx = torch.randint(0, batch, (n, 1)).float()
    return torch.cat((idx, xy, xy + wh), dim=1)


def test_equals_per_slice_roialign_then_max_then_mean():
    """Reference: mmcv RoIAlign on each contiguous slice in a Python loop."""
    torch.manual_seed(0)
    B, C, t, h, w = 2, 6, 4, 5, 7
    feats = torch.randn(B, C, t, h, w)
    rois = random_rois(9, B, 16 * 5)
    out = ActorTokenExtractor(featmap_stride=16)(feats, rois)

    roi_align = RoIAlign(7, spatial_scale=1 / 16, sampling_ratio=2, aligned=True)
    per_slice = torch.stack(
        [roi_align(feats[:, :, s].contiguous(), rois) for s in range(t)], dim=1)  # (n, t, C, 7, 7)
    expected = per_slice.amax(dim=(-2, -1)).mean(dim=1)
    assert out.shape == (9, C)
    assert torch.allclose(out, expected, atol=1e-6)
    # the order matters: mean over time first, then max, is something else
    other = per_slice.mean(dim=1).amax(dim=(-2, -1))
    assert not torch.allclose(out, other, atol=1e-3)


def test_hand_computed_on_a_linear_ramp():
    """Bilinear sampling reproduces a map linear in x, so the pooled value has a closed form.

    Slice s holds ``10 * s + x`` (x = column). aligned RoIAlign: the RoI starts at
    ``x1 / 16 - 0.5`` and is ``(x2 - x1) / 16`` wide; the mean of bin j's 2 samples is at
    ``start + (j + 0.5) * width / 7``, so the spatial max is the last bin (j = 6) and the
    temporal mean adds ``10 * mean(s)``.
    """
    B, C, t, h, w = 1, 1, 3, 6, 12
    x = torch.arange(w).float()
    feats = (10 * torch.arange(t).float()[:, None, None] + x).expand(t, h, w)
    feats = feats.reshape(B, C, t, h, w)
    x1, x2 = 40., 120.
    rois = torch.tensor([[0., x1, 20., x2, 70.]])
    out = ActorTokenExtractor(featmap_stride=16)(feats, rois)
    start, width = x1 / 16 - .5, (x2 - x1) / 16
    expected = 10 * (t - 1) / 2 + start + 6.5 * width / 7
    assert out.item() == pytest.approx(expected, abs=1e-5)


def test_non_contiguous_input_map_is_handled():
    torch.manual_seed(0)
    feats = torch.randn(2, 5, 3, 6, 4).transpose(3, 4)  # (2, 5, 3, 4, 6), not contiguous
    assert not feats.is_contiguous()
    rois = random_rois(5, 2, 60)
    extractor = ActorTokenExtractor()
    assert torch.allclose(extractor(feats, rois), extractor(feats.contiguous(), rois))


def test_gradient_reaches_the_map_and_no_rois_is_fine():
    feats = torch.randn(1, 4, 2, 5, 5, requires_grad=True)
    extractor = ActorTokenExtractor()
    extractor(feats, random_rois(3, 1, 60)).sum().backward()
    assert feats.grad.abs().sum() > 0
    assert extractor(feats, torch.zeros(0, 5)).shape == (0, 4)


def test_stride_sets_spatial_scale_and_bad_layer_is_named():
    assert ActorTokenExtractor(featmap_stride=8).roi_layer.spatial_scale == 1 / 8
    with pytest.raises(KeyError, match='mmcv.ops'):
        ActorTokenExtractor(dict(type='RoIAlignTypo'))
    with pytest.raises(ValueError, match='featmap_stride'):
        ActorTokenExtractor(dict(spatial_scale=.5))


def test_chunked_pooling_without_autograd_equals_one_call(monkeypatch):
    # without autograd the RoIs are pooled and reduced in chunks (bounded memory); the tokens
    # must be those of one call over all RoIs (as pooled with autograd)
    from mmevad.models.roi_heads.roi_extractors import actor_token_extractor
    torch.manual_seed(0)
    B, C, t, h, w = 2, 3, 4, 5, 6
    feats = torch.randn(B, C, t, h, w)
    rois = random_rois(11, B, 16 * 5)
    extractor = ActorTokenExtractor(featmap_stride=16)
    whole = extractor(feats, rois)
    calls = []
    layer_forward = extractor.roi_layer.forward
    monkeypatch.setattr(extractor.roi_layer, 'forward',
                        lambda x, r: calls.append(len(r)) or layer_forward(x, r))
    monkeypatch.setattr(actor_token_extractor, '_CHUNK_ELEMENTS', 3 * t * C * 7 * 7)
    with torch.no_grad():
        chunked = extractor(feats, rois)
    assert calls == [3, 3, 3, 2]
    torch.testing.assert_close(chunked, whole, atol=0, rtol=0)
