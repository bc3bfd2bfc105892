"""RoIAlign written as two small matrix products, for fast CPU training and inference, and the
RoIAlign that configs get by default: mmcv's kernel on GPU, the matrix form on the CPU."""
from typing import Tuple, Union

import torch
from mmaction.registry import MODELS
from mmcv.ops import RoIAlign
from torch import Tensor, nn

__all__ = ['SeparableRoIAlign', 'DeviceRoIAlign', 'build_roi_layer']


@MODELS.register_module()
class SeparableRoIAlign(nn.Module):
    """``mmcv.ops.RoIAlign`` with ``aligned=True``, average pooling and a fixed sampling ratio,
    computed as ``Wy @ F @ Wxᵀ`` per RoI.

    Why: mmcv 2.1.0's CPU RoIAlign runs one thread and its backward scatters sample by sample;
    in CPU training of a small EVAD it took about half of every iteration. RoIAlign's bilinear
    samples, their validity test and the bin average all factor into a row part and a column
    part, so each output bin is ``Σ_h Σ_w Wy[i, h] · Wx[j, w] · F[h, w]`` with ``Wy`` of shape
    ``(out, H)`` and ``Wx`` of shape ``(out, W)``: two batched contractions that autograd
    differentiates with dense kernels. The values equal mmcv's (tested). The cost grows with the
    map size (every RoI touches every row and column), so mmcv's kernel stays the better choice
    for large maps on GPU; this layer is meant for small maps.

    Args:
        output_size (int | tuple[int, int]): output bins ``(out_h, out_w)``.
        spatial_scale (float): map cells per input pixel, ``1 / stride``.
        sampling_ratio (int): samples per bin along each axis; must be positive (mmcv's
            adaptive ``0`` is not supported).
        pool_mode (str): only ``'avg'``.
        aligned (bool): only True (half-pixel offset, detectron2's ``ROIAlignV2``).
    """

    def __init__(self,
                 output_size: Union[int, Tuple[int, int]],
                 spatial_scale: float = 1.0,
                 sampling_ratio: int = 2,
                 pool_mode: str = 'avg',
                 aligned: bool = True) -> None:
        super().__init__()
        if sampling_ratio <= 0:
            raise ValueError(f'SeparableRoIAlign needs a fixed sampling_ratio > 0, got '
                             f"{sampling_ratio}; use mmcv's RoIAlign for the adaptive 0")
        if pool_mode != 'avg' or not aligned:
            raise ValueError(f'SeparableRoIAlign implements pool_mode="avg" with aligned=True '
                             f'only, got pool_mode={pool_mode!r}, aligned={aligned}; use '
                             f"mmcv's RoIAlign")
        self.output_size = ((output_size, output_size) if isinstance(output_size, int) else
                            tuple(output_size))
        self.spatial_scale = float(spatial_scale)
        self.sampling_ratio = int(sampling_ratio)

    def _axis_weights(self, start: Tensor, end: Tensor, bins: int, size: int) -> Tensor:
        """Interpolation weights of one axis, averaged over each bin's samples.

        Args:
            start, end (Tensor): ``(n,)`` RoI borders on this axis, in input pixels.
            bins (int): output bins on this axis.
            size (int): map cells on this axis.

        Returns:
            Tensor: ``(n, bins, size)``.
        """
        sr = self.sampling_ratio
        start = start * self.spatial_scale - 0.5
        length = end * self.spatial_scale - 0.5 - start
        # sample s of bin i sits at start + (i + (s + 0.5) / sr) * length / bins
        steps = (torch.arange(bins * sr, dtype=start.dtype, device=start.device) + 0.5) / (
            bins * sr)
        coords = start[:, None] + length[:, None] * steps  # (n, bins * sr)
        # mmcv: a sample further than one cell outside the map contributes 0; closer ones are
        # clamped onto the border cells
        valid = (coords >= -1) & (coords <= size)
        coords = coords.clamp(0, size - 1)
        low = coords.floor().clamp(max=size - 1)
        frac = coords - low
        cells = torch.arange(size, dtype=start.dtype, device=start.device)
        weights = ((cells == low[..., None]) * (1 - frac)[..., None] +
                   (cells == (low + 1)[..., None]) * frac[..., None])  # (n, bins*sr, size)
        weights = weights * valid[..., None]
        return weights.view(-1, bins, sr, size).mean(2)

    def forward(self, input: Tensor, rois: Tensor) -> Tensor:
        """Args:
            input (Tensor): ``(B, C, H, W)`` feature maps.
            rois (Tensor): ``(n, 5)`` rows ``(batch index, x1, y1, x2, y2)`` in input pixels.

        Returns:
            Tensor: ``(n, C, out_h, out_w)``.
        """
        num_imgs, channels, height, width = input.shape
        out_h, out_w = self.output_size
        wy = self._axis_weights(rois[:, 2], rois[:, 4], out_h, height).to(input.dtype)
        wx = self._axis_weights(rois[:, 1], rois[:, 3], out_w, width).to(input.dtype)
        # group the RoIs by image (padded to the largest group) so that every image's map is
        # contracted once with all of its RoIs
        batch_inds = rois[:, 0].long()
        counts = torch.bincount(batch_inds, minlength=num_imgs)
        order = torch.argsort(batch_inds, stable=True)
        slot = torch.arange(rois.shape[0], device=rois.device) - torch.repeat_interleave(
            counts.cumsum(0) - counts, counts)
        group = int(counts.max()) if rois.shape[0] else 0
        wy_grouped = wy.new_zeros(num_imgs, group, out_h, height)
        wx_grouped = wx.new_zeros(num_imgs, group, out_w, width)
        wy_grouped[batch_inds[order], slot] = wy[order]
        wx_grouped[batch_inds[order], slot] = wx[order]
        # rows: (B, G * out_h, H) @ (B, H, C * W); then columns per RoI:
        # (B * G, out_h * C, W) @ (B * G, W, out_w)
        maps = input.permute(0, 2, 1, 3).reshape(num_imgs, height, channels * width)
        rows = torch.bmm(wy_grouped.view(num_imgs, group * out_h, height), maps)
        pooled = torch.bmm(
            rows.view(num_imgs * group, out_h * channels, width),
            wx_grouped.view(num_imgs * group, out_w, width).transpose(1, 2))
        pooled = pooled.view(num_imgs, group, out_h, channels, out_w).permute(0, 1, 3, 2, 4)
        output = pooled.new_empty(rois.shape[0], channels, out_h, out_w)
        output[order] = pooled[batch_inds[order], slot]
        return output

    def extra_repr(self) -> str:
        return (f'output_size={self.output_size}, spatial_scale={self.spatial_scale}, '
                f'sampling_ratio={self.sampling_ratio}')


@MODELS.register_module()
class DeviceRoIAlign(RoIAlign):
    """``mmcv.ops.RoIAlign`` (same arguments, same values) that computes on the CPU as
    :class:`SeparableRoIAlign` where that layer applies (average pooling, ``aligned=True``,
    ``sampling_ratio > 0``) and with mmcv's kernel otherwise, e.g. on CUDA.

    Why: on the CPU mmcv's kernel runs one thread and its backward scatters sample by sample;
    the separable form is several times faster there and equal to float rounding (tested), while
    on GPU mmcv's kernel is the better one. Like mmcv's kernel, no gradient flows into the RoI
    coordinates (the separable form alone would differentiate its interpolation weights).

    Opt-in (``roi_layer=dict(type='DeviceRoIAlign', ...)``), not what ``type='RoIAlign'``
    builds: in the eval forward of the ViT-B detector at 16x288x288 on one CPU thread it saved
    no measurable time and raised the peak memory by about 360 MiB (README, "Speed").
    """

    def __init__(self,
                 output_size: Union[int, Tuple[int, int]],
                 spatial_scale: float = 1.0,
                 sampling_ratio: int = 0,
                 pool_mode: str = 'avg',
                 aligned: bool = True,
                 use_torchvision: bool = False) -> None:
        super().__init__(output_size, spatial_scale, sampling_ratio, pool_mode, aligned,
                         use_torchvision)
        self.separable = None
        if sampling_ratio > 0 and pool_mode == 'avg' and aligned and not use_torchvision:
            self.separable = SeparableRoIAlign(output_size, spatial_scale, sampling_ratio)

    def forward(self, input: Tensor, rois: Tensor) -> Tensor:
        """Args:
            input (Tensor): ``(B, C, H, W)`` feature maps.
            rois (Tensor): ``(n, 5)`` rows ``(batch index, x1, y1, x2, y2)`` in input pixels.

        Returns:
            Tensor: ``(n, C, out_h, out_w)``.
        """
        if self.separable is not None and input.device.type == 'cpu':
            # mmcv's kernel has no gradient for the boxes; neither has this path
            return self.separable(input, rois.detach())
        return super().forward(input, rois)


def build_roi_layer(cfg: dict, spatial_scale: float) -> nn.Module:
    """Build an RoI layer named by ``cfg['type']``: a layer registered in mmaction's MODELS
    (e.g. :class:`SeparableRoIAlign`, :class:`DeviceRoIAlign`) or an ``mmcv.ops`` layer
    (e.g. ``'RoIAlign'``)."""
    import mmcv.ops
    cfg = dict(cfg)
    if 'spatial_scale' in cfg:
        raise ValueError('roi_layer must not set spatial_scale; it is 1 / the feature map '
                         'stride (featmap_stride / featmap_strides)')
    layer_type = cfg.pop('type')
    if isinstance(layer_type, str) and layer_type in MODELS:
        return MODELS.build(dict(type=layer_type, spatial_scale=spatial_scale, **cfg))
    if isinstance(layer_type, str) and hasattr(mmcv.ops, layer_type):
        return getattr(mmcv.ops, layer_type)(spatial_scale=spatial_scale, **cfg)
    raise KeyError(f'roi_layer type {layer_type!r} is neither an mmevad RoI layer nor an '
                   f"mmcv.ops layer; use e.g. 'RoIAlign' or 'SeparableRoIAlign'")
