from typing import NamedTuple, Tuple

from torch import Tensor


class TokenPruningOutput(NamedTuple):
    """What :class:`~mmevad.models.TokenPruningViT` returns with ``out_type='evad'``.

    Shapes use the names of ``evad-algorithm.md``: ``B`` clips, ``C`` encoder width, grid
    ``(t, h, w)`` of token slots, ``Nk = h * w`` keyframe tokens, ``K`` kept non-keyframe tokens.

    Attributes:
        keyframe_feats (tuple[Tensor]): four keyframe maps for the FPN, ``(B, C, 4h, 4w)``,
            ``(B, C, 2h, 2w)``, ``(B, C, h, w)``, ``(B, C, h/2, w/2)`` (strides 4, 8, 16, 32), taken
            from the raw outputs of the ``feature_taps`` blocks (spec §1.9).
        tokens (Tensor): ``(B, Nk + K, C)`` final tokens after the last LayerNorm; the first ``Nk``
            are the keyframe tokens in raster order, the rest the kept non-keyframe tokens.
        kept_index (Tensor): ``(B, K)`` long, the non-keyframe global index (spec §1.5) of each
            token in ``tokens[:, Nk:]``, in the same order.
        grid (tuple[int, int, int]): ``(t, h, w)`` token grid of the (padded) input clip.
        kept_index_per_block (tuple[Tensor]): one ``(B, K_i)`` long tensor per block ``i``: the
            non-keyframe global indices still present after that block (``K_i`` is the same as
            before the block where it does not prune), in the top-k order of the block that last
            pruned them (the order of the final ``kept_index`` may differ, see
            ``TokenPruningViT(kept_token_order=...)``; the sets are the same). A record for the
            kept-token view (:mod:`mmevad.visualization`); the heads do not read it. Empty when
            the producer does not record it.
    """
    keyframe_feats: Tuple[Tensor, ...]
    tokens: Tensor
    kept_index: Tensor
    grid: Tuple[int, int, int]
    kept_index_per_block: Tuple[Tensor, ...] = ()
