"""The fixed sinusoid position table of VideoMAE and its per-slot spatial interpolation
(docs/algorithm.md#position-table)."""
from typing import Tuple

import torch.nn.functional as F
from mmaction.models.backbones.vit_mae import get_sinusoid_encoding
from torch import Tensor

__all__ = ['get_sinusoid_encoding', 'resize_pos_embed']


def resize_pos_embed(pos_embed: Tensor, src_grid: Tuple[int, int, int],
                     dst_grid: Tuple[int, int, int]) -> Tensor:
    """Resize a flattened (t, h, w) position table to another spatial grid.

    Each of the ``t`` temporal slots is resized on its own with bicubic interpolation
    (``align_corners=False``), as VideoMAE and EVAD do; the temporal length is never resized.

    Args:
        pos_embed (Tensor): ``(1, t * h * w, C)`` table in t-major, then row, then column order.
        src_grid (tuple[int]): ``(t, h, w)`` the table was built for, e.g. ``(8, 14, 14)``.
        dst_grid (tuple[int]): ``(t, h', w')`` wanted.

    Returns:
        Tensor: ``(1, t * h' * w', C)``; ``pos_embed`` itself when the grids are equal.
    """
    if tuple(src_grid) == tuple(dst_grid):
        return pos_embed
    t, h, w = src_grid
    if dst_grid[0] != t:
        raise ValueError(
            f'the position table has {t} temporal slots but the clip gives {dst_grid[0]}; '
            f'use a clip of num_frames = {t} x tubelet_size frames')
    channels = pos_embed.shape[-1]
    table = pos_embed.reshape(t, h, w, channels).permute(0, 3, 1, 2)
    table = F.interpolate(table, size=tuple(dst_grid[1:]), mode='bicubic', align_corners=False)
    return table.permute(0, 2, 3, 1).reshape(1, -1, channels)
