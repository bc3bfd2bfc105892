"""Indexing of EVAD's token grid (docs/algorithm.md#keyframe-first), shared by the backbone,
which orders and prunes the tokens, and the RoI head, which puts them back on the grid.

A clip of ``t`` temporal slots of ``h x w`` tokens is flattened t-major ("grid order", position
``slot * Nk + row * w + col`` with ``Nk = h * w``). EVAD reorders it keyframe-first: the tokens of
the keyframe slot ``t // 2`` in raster order, then the other slots in temporal order. The
non-keyframe tokens are numbered ``0 .. (t - 1) * Nk - 1`` in that order (the *non-keyframe global
index*, what ``kept_index`` holds), i.e. slot by slot with the keyframe slot left out.
"""
from typing import Tuple

import torch
from torch import Tensor

__all__ = ['keyframe_first', 'keyframe_slot', 'nonkey_to_flat_index', 'token_positions']

Grid = Tuple[int, int, int]


def keyframe_slot(grid: Grid) -> int:
    """The temporal slot of the keyframe, ``t // 2`` of a ``(t, h, w)`` grid."""
    return grid[0] // 2


def keyframe_first(tokens: Tensor, grid: Grid) -> Tensor:
    """Reorder grid-order tokens keyframe-first.

    Args:
        tokens (Tensor): ``(B, t * h * w, C)`` in grid order.
        grid (tuple[int, int, int]): ``(t, h, w)``.

    Returns:
        Tensor: ``(B, t * h * w, C)``: slot ``t // 2`` first, then the other slots in temporal
        order; token ``Nk + g`` is the non-keyframe token of global index ``g``.
    """
    t, h, w = grid
    batch, _, channels = tokens.shape
    slots = tokens.reshape(batch, t, h * w, channels)
    key = keyframe_slot(grid)
    return torch.cat([slots[:, key:key + 1], slots[:, :key], slots[:, key + 1:]], 1).flatten(1, 2)


def nonkey_to_flat_index(index: Tensor, num_key: int, key_slot: int) -> Tensor:
    """Non-keyframe global index -> grid-order position.

    Index ``g`` sits at ``g`` before the keyframe slot and at ``g + Nk`` after it.

    Args:
        index (Tensor): non-keyframe global indices, any shape, long.
        num_key (int): tokens per slot ``Nk = h * w``.
        key_slot (int): temporal slot of the keyframe, ``t // 2``.

    Returns:
        Tensor: grid-order positions ``slot * Nk + row * w + col``, same shape.
    """
    return torch.where(index < key_slot * num_key, index, index + num_key)


def token_positions(kept_index: Tensor, grid: Grid) -> Tensor:
    """Grid-order positions of keyframe-first tokens after pruning.

    Args:
        kept_index (Tensor): ``(B, K)`` long, the non-keyframe global index of each kept
            non-keyframe token, in the tokens' order.
        grid (tuple[int, int, int]): ``(t, h, w)``.

    Returns:
        Tensor: ``(B, Nk + K)`` long: the keyframe slot's positions in raster order, then the
        position of each kept token.
    """
    _, h, w = grid
    num_key = h * w
    key = keyframe_slot(grid)
    keyframe = torch.arange(key * num_key, (key + 1) * num_key, device=kept_index.device)
    return torch.cat((keyframe.expand(kept_index.shape[0], -1),
                      nonkey_to_flat_index(kept_index, num_key, key)), dim=1)
