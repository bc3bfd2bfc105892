"""EVAD's "token remapping": surviving tokens back on the (t, h, w) grid
(docs/algorithm.md#token-remapping)."""
from typing import Tuple

from torch import Tensor

# nonkey_to_flat_index is re-exported: it lived here before mmevad.structures.token_grid
from mmevad.structures.token_grid import nonkey_to_flat_index, token_positions

__all__ = ['KEPT_TOKEN_ORDERS', 'nonkey_to_flat_index', 'remap_tokens']

KEPT_TOKEN_ORDERS = ('official', 'sorted')


def remap_tokens(tokens: Tensor, kept_index: Tensor, grid: Tuple[int, int, int],
                 mask_token: Tensor, pos_embed: Tensor,
                 kept_token_order: str = 'official') -> Tuple[Tensor, Tensor]:
    """Build the dense map for RoIAlign and the decoder's context tokens from pruned tokens.

    The keyframe tokens go to slot ``t // 2``, every kept non-keyframe token to a kept position,
    every dropped position gets ``mask_token`` (docs/official_behaviours.md#d4); the position table
    is added to both outputs.

    ``kept_token_order`` says which kept position a kept token goes to:

    - ``'official'`` reproduces the released EVAD code (docs/official_behaviours.md#d1): the kept
      positions are filled in ascending position order while the tokens stay in the backbone's
      (score) order, so tokens land on the wrong, but kept, positions; their position embedding is
      taken the same way.
    - ``'sorted'``: every token goes to its own ``kept_index`` position (the evident intent).

    Args:
        tokens (Tensor): ``(B, Nk + K, Cd)`` projected tokens, keyframe tokens first (raster
            order), then the kept non-keyframe tokens.
        kept_index (Tensor): ``(B, K)`` long, non-keyframe global index of ``tokens[:, Nk:]``.
        grid (tuple[int, int, int]): ``(t, h, w)``.
        mask_token (Tensor): ``(1, 1, Cd)`` learned filler of dropped positions.
        pos_embed (Tensor): ``(1, t * h * w, Cd)`` position table, original t-major order.
        kept_token_order (str): ``'official'`` or ``'sorted'``. Defaults to ``'official'``.

    Returns:
        tuple[Tensor, Tensor]: the dense map ``(B, Cd, t, h, w)`` and the context tokens
        ``(B, Nk + K, Cd)`` (``tokens`` plus their position embedding).
    """
    if kept_token_order not in KEPT_TOKEN_ORDERS:
        raise ValueError(f'kept_token_order={kept_token_order!r}; choose one of '
                         f'{KEPT_TOKEN_ORDERS}')
    t, h, w = grid
    num_key = h * w
    B, num_tokens, channels = tokens.shape
    if kept_index.shape != (B, num_tokens - num_key):
        raise ValueError(f'kept_index has shape {tuple(kept_index.shape)} but tokens '
                         f'{tuple(tokens.shape)} with a {h}x{w} keyframe need '
                         f'{(B, num_tokens - num_key)}')
    if kept_token_order == 'official':
        kept_index = kept_index.sort(dim=1).values
    positions = token_positions(kept_index, grid)[..., None].expand(-1, -1, channels)

    # under autocast the tokens may be fp16/bf16 while the learned mask token stays fp32
    dense = mask_token.to(tokens.dtype).expand(B, t * h * w, channels).scatter(
        1, positions, tokens)
    dense = dense + pos_embed
    context = tokens + pos_embed.expand(B, -1, -1).gather(1, positions)
    dense = dense.reshape(B, t, h, w, channels).permute(0, 4, 1, 2, 3)
    return dense, context
