import pytest
import torch
from mmaction.registry import MODELS
from mmcv.ops import RoIAlign
from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor

from mmevad.models.layers import SeparableRoIAlign, build_roi_layer
from mmevad.models.roi_heads import IsolatedSingleRoIExtractor


def random_rois(num_imgs, num_rois, height, width, stride, seed=0):
    """RoIs in input pixels, some reaching outside the map (the clamping and zero rules)."""
    g = torch.Generator().manual_seed(seed)
    batch = torch.randint(0, num_imgs, (num_rois, ), generator=g).double()
    xy = torch.rand(num_rois, 2, generator=g, dtype=torch.float64) * torch.tensor(
        [width * stride * 1.3, height * stride * 1.3]) - 2.5 * stride
    wh = torch.rand(num_rois, 2, generator=g, dtype=torch.float64) * 8 * stride + 0.05
    return torch.cat([batch[:, None], xy, xy + wh], 1)


@pytest.mark.parametrize('shape, num_rois, stride, output_size, sampling_ratio', [
    ((4, 6, 12, 16), 40, 16, 7, 2),
    ((2, 3, 5, 7), 9, 4, (3, 5), 1),
    ((3, 2, 9, 1), 12, 8, 4, 3),  # a one-column map
])
def test_equals_mmcv_roialign(shape, num_rois, stride, output_size, sampling_ratio):
    torch.manual_seed(0)
    feats = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    rois = random_rois(shape[0], num_rois, shape[2], shape[3], stride)
    ref = RoIAlign(output_size, 1 / stride, sampling_ratio, aligned=True)(feats, rois)
    ours = SeparableRoIAlign(output_size, 1 / stride, sampling_ratio)(feats, rois)
    torch.testing.assert_close(ours, ref, atol=1e-10, rtol=1e-10)
    weights = torch.randn_like(ref)
    ref_grad, = torch.autograd.grad((ref * weights).sum(), feats)
    our_grad, = torch.autograd.grad((ours * weights).sum(), feats)
    torch.testing.assert_close(our_grad, ref_grad, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize('form', ['dense', 'separable', 'separable_chunked'])
def test_both_forms_equal_mmcv_roialign(monkeypatch, form):
    # SeparableRoIAlign picks the dense bilinear matrix for small maps and the chunked
    # separable contraction for larger ones; each form alone must give mmcv's values
    from mmevad.models.layers import roi_align
    monkeypatch.setattr(roi_align, '_DENSE_MAX_CELLS', 10**9 if form == 'dense' else 0)
    if form == 'separable_chunked':
        # a chunk of one or two RoI slots: 3 images x 7 rows x 4 channels x 10 columns each
        monkeypatch.setattr(roi_align, '_CHUNK_ELEMENTS', 2 * 3 * 7 * 4 * 10)
    torch.manual_seed(0)
    shape, stride = (3, 4, 11, 10), 8
    feats = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    rois = random_rois(shape[0], 23, shape[2], shape[3], stride)
    ref = RoIAlign(7, 1 / stride, 2, aligned=True)(feats, rois)
    ours = SeparableRoIAlign(7, 1 / stride, 2)(feats, rois)
    assert ours.is_contiguous()
    torch.testing.assert_close(ours, ref, atol=1e-10, rtol=1e-10)
    weights = torch.randn_like(ref)
    ref_grad, = torch.autograd.grad((ref * weights).sum(), feats)
    our_grad, = torch.autograd.grad((ours * weights).sum(), feats)
    torch.testing.assert_close(our_grad, ref_grad, atol=1e-10, rtol=1e-10)


def test_no_rois_and_unsupported_settings():
    layer = SeparableRoIAlign(7, 1 / 16, 2)
    assert layer(torch.randn(2, 3, 4, 4), torch.zeros(0, 5)).shape == (0, 3, 7, 7)
    with pytest.raises(ValueError, match='sampling_ratio'):
        SeparableRoIAlign(7, 1 / 16, 0)
    with pytest.raises(ValueError, match='aligned'):
        SeparableRoIAlign(7, 1 / 16, 2, aligned=False)


def test_build_roi_layer_finds_mmevad_and_mmcv_layers():
    assert isinstance(build_roi_layer(dict(type='SeparableRoIAlign', output_size=7), 0.25),
                      SeparableRoIAlign)
    mmcv_layer = build_roi_layer(dict(type='RoIAlign', output_size=7), 0.25)
    assert isinstance(mmcv_layer, RoIAlign) and mmcv_layer.spatial_scale == 0.25
    with pytest.raises(KeyError, match='RoIAlgn'):
        build_roi_layer(dict(type='RoIAlgn'), 1.)


def test_isolated_single_roi_extractor_matches_mmdet():
    """Same level assignment and pooling as mmdet's SingleRoIExtractor."""
    common = dict(out_channels=4, featmap_strides=[4, 8, 16, 32])
    ours = MODELS.build(dict(
        type='IsolatedSingleRoIExtractor',
        roi_layer=dict(type='SeparableRoIAlign', output_size=7, sampling_ratio=2), **common))
    ref = SingleRoIExtractor(
        roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=2, aligned=True), **common)
    assert isinstance(ours, IsolatedSingleRoIExtractor)
    torch.manual_seed(0)
    feats = tuple(torch.randn(2, 4, 128 // s, 160 // s) for s in (4, 8, 16, 32))
    rois = random_rois(2, 30, 128, 160, 1).float()
    rois[:, 3:] = rois[:, 1:3] + (rois[:, 3:] - rois[:, 1:3]) * 40  # all four levels
    torch.testing.assert_close(ours(feats, rois), ref(feats, rois), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('layer', ['RoIAlign', 'SeparableRoIAlign'])
def test_isolated_single_roi_extractor_keeps_a_nan_image_to_itself(layer):
    """mmdet adds ``feats.sum() * 0`` for every unused level, so one NaN map made every RoI of
    the batch NaN; a RoI with NaN coordinates stopped mmcv's RoIAlign. Ours: only the RoIs of
    the broken image are NaN, the others equal the clean batch's."""
    extractor = MODELS.build(dict(
        type='IsolatedSingleRoIExtractor', out_channels=4, featmap_strides=[4, 8, 16, 32],
        roi_layer=dict(type=layer, output_size=7, sampling_ratio=2, aligned=True)))
    torch.manual_seed(0)
    feats = [torch.randn(2, 4, 64 // s, 96 // s, requires_grad=True) for s in (4, 8, 16, 32)]
    rois = torch.tensor([[0., 4, 4, 20, 20], [1., 8, 8, 30, 40], [0., 1, 2, 3, 4]])  # levels 0
    clean = extractor(feats, rois)
    broken = [f.detach().clone() for f in feats]
    broken[0][0, :, 3, 3] = float('nan')  # image 0 only, a level no RoI of image 1 uses
    broken[3][0] = float('inf')
    nan_rois = rois.clone()
    nan_rois[2, 1:] = float('nan')  # a box predicted from the broken image
    out = extractor(broken, nan_rois)
    assert torch.equal(out[1], clean[1].detach())
    assert out[2].isnan().all()
    # the unused levels stay in the graph (distributed training needs every input used)
    clean.sum().backward()
    assert all(f.grad is not None for f in feats)
