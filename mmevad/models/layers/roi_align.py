"""RoIAlign written as two small matrix products, for fast CPU training and inference, and the
RoIAlign that configs get by default: mmcv's kernel on GPU, the matrix form on the CPU."""
from typing import Tuple, Union

import torch
from mmaction.registry import MODELS
from mmcv.ops import RoIAlign
from torch import Tensor, nn

__all__ = ['SeparableRoIAlign', 'DeviceRoIAlign', 'build_roi_layer']

# SeparableRoIAlign pools maps of at most this many cells with one dense bilinear matrix per RoI
# (see SeparableRoIAlign._pool_dense), larger ones in the separable form
_DENSE_MAX_CELLS = 24 * 24
# upper bound on the values of the separable form's intermediate rows (16 MiB in float32)
_CHUNK_ELEMENTS = 2**22


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
        if rois.shape[0] == 0:
            return input.new_zeros(0, channels, out_h, out_w)
        wy = self._axis_weights(rois[:, 2], rois[:, 4], out_h, height).to(input.dtype)
        wx = self._axis_weights(rois[:, 1], rois[:, 3], out_w, width).to(input.dtype)
        # group the RoIs by image (padded to the largest group) so that every image's map is
        # contracted once with all of its RoIs
        batch_inds = rois[:, 0].long()
        counts = torch.bincount(batch_inds, minlength=num_imgs)
        order = torch.argsort(batch_inds, stable=True)
        slot = torch.arange(rois.shape[0], device=rois.device) - torch.repeat_interleave(
            counts.cumsum(0) - counts, counts)
        group = int(counts.max())
        wy_grouped = wy.new_zeros(num_imgs, group, out_h, height)
        wx_grouped = wx.new_zeros(num_imgs, group, out_w, width)
        wy_grouped[batch_inds[order], slot] = wy[order]
        wx_grouped[batch_inds[order], slot] = wx[order]
        if height * width <= _DENSE_MAX_CELLS:
            pooled = self._pool_dense(input, wy_grouped, wx_grouped)
        else:
            pooled = self._pool_separable(input, wy_grouped, wx_grouped)
        # pooled: (B, G, C, out_h, out_w)
        return pooled[batch_inds, slot[torch.argsort(order)]].contiguous()

    @staticmethod
    def _pool_dense(input: Tensor, wy: Tensor, wx: Tensor) -> Tensor:
        """Small maps: one matrix product per image with every RoI's full bilinear matrix
        ``Wy ⊗ Wx``, ``(B, G*out_h*out_w, H*W) @ (B, H*W, C)``.

        Why: on a small map the two thin contractions of :meth:`_pool_separable` (inner size
        ``H`` or ``W``) run far below the speed of a matrix product; this form costs about
        ``7 H / (H + 7)`` times their multiply-adds in one large product and was faster at
        ``9²`` and ``18²`` cells (the actor tokens' map, p4 and p5), slower at ``36²`` (one CPU
        thread). The map is the product's second operand, so its gradient is one product too.

        Args:
            input (Tensor): ``(B, C, H, W)``.
            wy, wx (Tensor): ``(B, G, out_h, H)`` and ``(B, G, out_w, W)`` grouped weights.

        Returns:
            Tensor: ``(B, G, C, out_h, out_w)``.
        """
        num_imgs, group, out_h, height = wy.shape
        out_w, width = wx.shape[2:]
        kron = wy[:, :, :, None, :, None] * wx[:, :, None, :, None, :]  # (B, G, oh, ow, H, W)
        kron = kron.view(num_imgs, group * out_h * out_w, height * width)
        pooled = torch.bmm(kron, input.flatten(2).transpose(1, 2))  # (B, G*oh*ow, C)
        return pooled.view(num_imgs, group, out_h, out_w, -1).permute(0, 1, 4, 2, 3)

    @staticmethod
    def _pool_separable(input: Tensor, wy: Tensor, wx: Tensor) -> Tensor:
        """Larger maps: rows, then columns, ``(B, G*out_h, H) @ (B, H, C*W)`` then
        ``(B*G, out_h*C, W) @ (B*G, W, out_w)``, over chunks of RoI slots so that the
        intermediate rows stay below ``2**22`` values (a ``(B, G*out_h, C*W)`` buffer of all
        RoIs at once reached hundreds of MiB).

        Args:
            input (Tensor): ``(B, C, H, W)``.
            wy, wx (Tensor): ``(B, G, out_h, H)`` and ``(B, G, out_w, W)`` grouped weights.

        Returns:
            Tensor: ``(B, G, C, out_h, out_w)``.
        """
        num_imgs, channels, height, width = input.shape
        group, out_h = wy.shape[1:3]
        out_w = wx.shape[2]
        maps = input.permute(0, 2, 1, 3).reshape(num_imgs, height, channels * width)
        step = max(1, _CHUNK_ELEMENTS // (num_imgs * out_h * channels * width))
        chunks = []
        for start in range(0, group, step):
            size = min(step, group - start)
            rows = torch.bmm(wy[:, start:start + size].reshape(num_imgs, size * out_h, height),
                             maps)  # (B, g * out_h, C * W)
            pooled = torch.bmm(
                rows.view(num_imgs * size, out_h * channels, width),
                wx[:, start:start + size].reshape(num_imgs * size, out_w, width).transpose(1, 2))
            chunks.append(pooled.view(num_imgs, size, out_h, channels, out_w))
        pooled = torch.cat(chunks, 1) if len(chunks) > 1 else chunks[0]
        return pooled.permute(0, 1, 3, 2, 4)

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

    It is what ``roi_layer=dict(type='RoIAlign', ...)`` builds (:func:`build_roi_layer`), so
    every config gets the separable form on the CPU and mmcv's kernel on CUDA without naming
    either; the device is read at every call. In the ViT-B detector's eval forward (288x288,
    one CPU thread) the RoIAlign calls took about half the time of mmcv's kernel, and the
    separable form runs on all threads where mmcv's CPU kernel runs on one (README, "Speed").
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
    (e.g. :class:`SeparableRoIAlign`, :class:`DeviceRoIAlign`) or an ``mmcv.ops`` layer.
    ``'RoIAlign'`` builds :class:`DeviceRoIAlign`: mmcv's layer (same arguments, state and
    values) that computes in the separable form on the CPU."""
    import mmcv.ops
    cfg = dict(cfg)
    if 'spatial_scale' in cfg:
        raise ValueError('roi_layer must not set spatial_scale; it is 1 / the feature map '
                         'stride (featmap_stride / featmap_strides)')
    layer_type = cfg.pop('type')
    if layer_type == 'RoIAlign':
        return DeviceRoIAlign(spatial_scale=spatial_scale, **cfg)
    if isinstance(layer_type, str) and layer_type in MODELS:
        return MODELS.build(dict(type=layer_type, spatial_scale=spatial_scale, **cfg))
    if isinstance(layer_type, str) and hasattr(mmcv.ops, layer_type):
        return getattr(mmcv.ops, layer_type)(spatial_scale=spatial_scale, **cfg)
    raise KeyError(f'roi_layer type {layer_type!r} is neither an mmevad RoI layer nor an '
                   f"mmcv.ops layer; use e.g. 'RoIAlign' or 'SeparableRoIAlign'")
