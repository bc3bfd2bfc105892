""":class:`DeviceRoIAlign` is mmcv's layer, computed on the CPU in the separable form where that
form applies, with the same pooled features and gradients."""
from unittest import mock

import pytest
import torch
from mmcv.ops import RoIAlign

from mmevad.models.layers import DeviceRoIAlign, SeparableRoIAlign, build_roi_layer
from test_roi_align import random_rois


@pytest.mark.parametrize('dtype, tol', [(torch.float64, 1e-10), (torch.float32, 1e-5)])
@pytest.mark.parametrize('shape, num_rois, stride, output_size, sampling_ratio', [
    ((2, 8, 18, 18), 30, 16, 7, 2),  # the actor extractor of a 288x288 ViT-B clip, smaller C
    ((1, 4, 72, 72), 25, 4, 7, 2),  # a stride-4 FPN level
    ((3, 2, 9, 5), 12, 8, (3, 5), 1),
])
def test_cpu_path_equals_mmcv_kernel(dtype, tol, shape, num_rois, stride, output_size,
                                     sampling_ratio):
    torch.manual_seed(0)
    feats = torch.randn(shape, dtype=dtype, requires_grad=True)
    rois = random_rois(shape[0], num_rois, shape[2], shape[3], stride).to(dtype)
    layer = build_roi_layer(dict(type='DeviceRoIAlign', output_size=output_size,
                                 sampling_ratio=sampling_ratio, aligned=True), 1 / stride)
    assert isinstance(layer, DeviceRoIAlign) and isinstance(layer, RoIAlign)
    assert layer.separable is not None
    mmcv_layer = RoIAlign(output_size, 1 / stride, sampling_ratio, aligned=True)
    with mock.patch.object(RoIAlign, 'forward', wraps=mmcv_layer.forward) as kernel:
        ours = layer(feats, rois)
    assert kernel.call_count == 0  # the separable form ran
    ref = mmcv_layer(feats, rois)
    torch.testing.assert_close(ours, ref, atol=tol, rtol=tol)
    weights = torch.randn_like(ref)
    our_grad, = torch.autograd.grad((ours * weights).sum(), feats)
    ref_grad, = torch.autograd.grad((ref * weights).sum(), feats)
    # float32 gradients sum many samples per cell, in another order than mmcv's scatter
    torch.testing.assert_close(our_grad, ref_grad, atol=10 * tol, rtol=10 * tol)


def test_no_gradient_into_boxes_like_mmcv():
    # mmcv's kernel does not differentiate the RoI coordinates; boxes predicted by an earlier
    # stage must not receive gradients through the pooling on the CPU either
    feats = torch.randn(1, 3, 12, 12, requires_grad=True)
    rois = random_rois(1, 5, 12, 12, 4).float().requires_grad_()
    layer = build_roi_layer(dict(type='DeviceRoIAlign', output_size=3, sampling_ratio=2), 0.25)
    layer(feats, rois).sum().backward()
    assert rois.grad is None and feats.grad is not None


@pytest.mark.parametrize('kwargs', [
    dict(sampling_ratio=0),  # adaptive sampling: only mmcv's kernel has it
    dict(sampling_ratio=2, pool_mode='max'),
    dict(sampling_ratio=2, aligned=False),
])
def test_settings_without_separable_form_use_mmcv_kernel(kwargs):
    torch.manual_seed(1)
    layer = build_roi_layer(dict(type='DeviceRoIAlign', output_size=3, **kwargs), 0.25)
    assert layer.separable is None
    feats = torch.randn(2, 3, 12, 12)
    rois = random_rois(2, 6, 12, 12, 4).float()
    reference = RoIAlign(3, 0.25, **kwargs)(feats, rois)
    assert torch.equal(layer(feats, rois), reference)


def test_roi_align_type_builds_the_device_layer():
    # every config that names mmcv's RoIAlign gets the CPU form without naming it
    layer = build_roi_layer(dict(type='RoIAlign', output_size=7, sampling_ratio=2), 0.25)
    assert type(layer) is DeviceRoIAlign and isinstance(layer, RoIAlign)
    assert layer.separable is not None and layer.spatial_scale == 0.25


def test_state_dict_and_repr_are_mmcv_layers():
    layer = DeviceRoIAlign(7, 1 / 16, 2)
    assert layer.state_dict().keys() == RoIAlign(7, 1 / 16, 2).state_dict().keys()
    assert isinstance(layer.separable, SeparableRoIAlign)
    assert layer.separable.spatial_scale == layer.spatial_scale
