"""Multi-head self-attention with VideoMAE's q/v biases, fused by default, and the keyframe-centric
importance score that EVAD's token pruning ranks tokens by (spec §1.6)."""
from typing import Tuple

import torch
import torch.nn.functional as F
from mmaction.models.backbones.vit_mae import Attention
from torch import Tensor

__all__ = ['QVBiasAttention', 'keyframe_importance', 'keyframe_importance_eager']

# Upper bound on the elements of one chunk of attention probabilities, (B, heads, rows, N):
# 2**22 float32 values = 16 MiB, against ~1 GiB for the whole map of ViT-B at 288x512. (On a
# 2-core CPU, chunks of 2**22 - 2**23 values were fastest: smaller ones pay per-op overhead.)
_CHUNK_ELEMENTS = 2**22


def keyframe_importance_eager(q: Tensor,
                        k: Tensor,
                        num_keyframe: int,
                        enhanced_weight: float,
                        scale: float,
                        chunk_rows: int = 0) -> Tensor:
    """Attention received by every non-keyframe token, keyframe queries weighted (spec §1.6).

    For non-keyframe key ``j`` the score is
    ``(1/heads) sum_h (1/N) [ew * sum_{q < Nk} A_h[q, j] + sum_{q >= Nk} A_h[q, j]]`` with
    ``A_h = softmax(scale * q_h k_h^T)`` over all ``N`` keys. The probabilities are rebuilt from
    ``q`` and ``k`` in chunks of query rows, so no ``(B, heads, N, N)`` map is ever held, and the
    probabilities are never scaled in place (D2). The result is not differentiable (it only
    selects tokens).

    Args:
        q (Tensor): ``(B, heads, N, C / heads)`` unscaled queries; the first ``Nk`` tokens are the
            keyframe tokens.
        k (Tensor): ``(B, heads, N, C / heads)`` keys.
        num_keyframe (int): ``Nk``.
        enhanced_weight (float): ``ew``, the weight of the keyframe-query rows.
        scale (float): the attention scale, ``(C / heads) ** -0.5``.
        chunk_rows (int): query rows per chunk; 0 picks as many as fit in 2**22 probabilities.
            Defaults to 0.

    Returns:
        Tensor: ``(B, N - Nk)`` scores in at least float32.
    """
    batch, heads, num_tokens, _ = q.shape
    dtype = torch.promote_types(q.dtype, torch.float32)
    with torch.no_grad():
        q = q.to(dtype) * scale
        k_t = k.to(dtype).transpose(-2, -1)
        if chunk_rows <= 0:
            chunk_rows = max(1, _CHUNK_ELEMENTS // (batch * heads * num_tokens))
        received = q.new_zeros(batch, heads, 1, num_tokens)
        for start in range(0, num_tokens, chunk_rows):
            stop = min(start + chunk_rows, num_tokens)
            probs = (q[:, :, start:stop] @ k_t).softmax(dim=-1)  # (B, heads, rows, N)
            row_weight = q.new_ones(stop - start)
            row_weight[:max(0, min(stop, num_keyframe) - start)] = enhanced_weight
            # weighted sum over this chunk's queries; all N columns (a contiguous operand is
            # faster than slicing off the keyframe columns first)
            received += row_weight.view(1, 1, 1, -1) @ probs
        # keep the non-keyframe columns; mean over the N queries, then over the heads
        return received[:, :, 0, num_keyframe:].sum(dim=1) / (num_tokens * heads)


# A custom op rather than the plain function so that it is one opaque node for tracers: the FLOP
# counter (tools/analysis_tools/get_flops.py) can then book its q.k^T recomputation separately
# from the attention itself, which spec §5.2 counts once per block. ONNX export traces
# keyframe_importance_eager instead (mmevad/deployment/onnx_export.py).
keyframe_importance = torch.library.custom_op(
    'mmevad::keyframe_importance', keyframe_importance_eager, mutates_args=())


@keyframe_importance.register_fake
def _keyframe_importance_fake(q, k, num_keyframe, enhanced_weight, scale, chunk_rows=0):
    dtype = torch.promote_types(q.dtype, torch.float32)
    return q.new_empty(q.shape[0], q.shape[2] - num_keyframe, dtype=dtype)


class QVBiasAttention(Attention):
    """mmaction2's VideoMAE ``Attention`` (same parameters: bias-free ``qkv`` plus ``q_bias`` and
    ``v_bias``, ``proj``) computed with ``torch.nn.functional.scaled_dot_product_attention``.

    Args:
        embed_dims (int): token width ``C``.
        num_heads (int): attention heads; ``C`` must be divisible by it. Defaults to 8.
        qkv_bias (bool): learn ``q_bias`` and ``v_bias`` (the key bias is always zero).
            Defaults to True.
        attn_drop_rate (float): dropout on the attention probabilities. Defaults to 0.
        drop_rate (float): dropout after the output projection. Defaults to 0.
        fused (bool): use ``scaled_dot_product_attention``; False computes the attention matrix
            explicitly (same result, kept for checks and export). Defaults to True.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int = 8,
                 qkv_bias: bool = True,
                 attn_drop_rate: float = 0.,
                 drop_rate: float = 0.,
                 fused: bool = True) -> None:
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims={embed_dims} is not divisible by '
                             f'num_heads={num_heads}')
        super().__init__(
            embed_dims,
            num_heads=num_heads,
            qkv_bias=qkv_bias,
            attn_drop_rate=attn_drop_rate,
            drop_rate=drop_rate)
        self.fused = fused

    def qkv_heads(self, x: Tensor) -> Tensor:
        """Project tokens to queries, keys and values.

        Args:
            x (Tensor): ``(B, N, C)``.

        Returns:
            Tensor: ``(3, B, heads, N, C / heads)``; queries are not yet scaled.
        """
        B, N, _ = x.shape
        bias = None
        if hasattr(self, 'q_bias'):
            bias = torch.cat((self.q_bias, torch.zeros_like(self.v_bias), self.v_bias))
        qkv = F.linear(x, self.qkv.weight, bias)
        return qkv.reshape(B, N, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)

    def merge_heads(self, out: Tensor) -> Tensor:
        """``(B, heads, N, C / heads)`` attention output -> projected ``(B, N, C)``."""
        out = out.transpose(1, 2).flatten(2)
        return self.proj_drop(self.proj(out))

    def attend(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """``softmax(scale * q k^T) v`` per head, ``(B, heads, N, C / heads)`` each."""
        if self.fused:
            return F.scaled_dot_product_attention(
                q, k, v,
                dropout_p=self.attn_drop.p if self.training else 0.,
                scale=self.scale)
        attn = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.attn_drop(attn) @ v

    def forward(self, x: Tensor) -> Tensor:
        """Args:
            x (Tensor): ``(B, N, C)``.

        Returns:
            Tensor: ``(B, N, C)``.
        """
        q, k, v = self.qkv_heads(x)
        return self.merge_heads(self.attend(q, k, v))

    def forward_and_importance(self, x: Tensor, num_keyframe: int,
                               enhanced_weight: float) -> Tuple[Tensor, Tensor]:
        """The attention output plus the keyframe-centric importance of the non-keyframe tokens.

        The output is computed exactly as :meth:`forward` (same ops, so gradient checkpointing
        can recompute it with :meth:`forward`); the scores come from :func:`keyframe_importance`
        on detached queries and keys (pre-dropout probabilities; attention dropout is 0 in EVAD).

        Args:
            x (Tensor): ``(B, N, C)`` normalised tokens, keyframe tokens first.
            num_keyframe (int): ``Nk``.
            enhanced_weight (float): weight of the keyframe-query rows.

        Returns:
            tuple[Tensor, Tensor]: ``(B, N, C)`` output and ``(B, N - Nk)`` scores.
        """
        q, k, v = self.qkv_heads(x)
        out = self.merge_heads(self.attend(q, k, v))
        score = keyframe_importance(q.detach(), k.detach(), int(num_keyframe),
                                    float(enhanced_weight), float(self.scale))
        return out, score
