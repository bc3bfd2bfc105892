"""Multi-head self-attention with VideoMAE's q/v biases on the fused kernel, and the keyframe-centric
importance score that EVAD's token pruning ranks tokens by (docs/algorithm.md#pruning)."""
import contextlib
import math
from typing import Iterator, Tuple

import torch
import torch.nn.functional as F
from mmaction.models.backbones.vit_mae import Attention
from torch import Tensor

__all__ = [
    'QVBiasAttention', 'attention_and_importance', 'attention_and_importance_eager',
    'keyframe_importance', 'keyframe_importance_eager', 'keyframe_importance_from_lse',
    'keyframe_importance_from_lse_eager', 'portable_importance'
]

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
    """Attention received by every non-keyframe token, keyframe queries weighted
    (docs/algorithm.md#pruning).

    For non-keyframe key ``j`` the score is
    ``(1/heads) sum_h (1/N) [ew * sum_{q < Nk} A_h[q, j] + sum_{q >= Nk} A_h[q, j]]`` with
    ``A_h = softmax(scale * q_h k_h^T)`` over all ``N`` keys. The probabilities are rebuilt from
    ``q`` and ``k`` in chunks of query rows, so no ``(B, heads, N, N)`` map is ever held, and the
    probabilities are never scaled in place (docs/official_behaviours.md#d2). The result is not
    differentiable (it only selects tokens).

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
# from the attention itself, which docs/algorithm.md#flops counts once per block. ONNX export traces
# keyframe_importance_eager instead (mmevad/deployment/onnx_export.py).
keyframe_importance = torch.library.custom_op(
    'mmevad::keyframe_importance', keyframe_importance_eager, mutates_args=())


@keyframe_importance.register_fake
def _keyframe_importance_fake(q, k, num_keyframe, enhanced_weight, scale, chunk_rows=0):
    dtype = torch.promote_types(q.dtype, torch.float32)
    return q.new_empty(q.shape[0], q.shape[2] - num_keyframe, dtype=dtype)


# PyTorch's CPU flash-attention kernel: returns the attention output and the row logsumexp
# ``lse`` (B, heads, N) in float32; it is the kernel scaled_dot_product_attention itself picks on
# the CPU (same output and backward, tested).
_cpu_flash_attention = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu


def keyframe_importance_from_lse_eager(q: Tensor, k: Tensor, lse: Tensor, num_keyframe: int,
                                       enhanced_weight: float, scale: float) -> Tensor:
    """:func:`keyframe_importance_eager` from the row logsumexps of the attention, with one more
    flash-attention pass instead of an explicit softmax (CPU).

    With ``A[q, j] = exp(scale q_q.k_j - lse_q)`` and the query weights ``w_q`` (``ew`` for the
    keyframe queries, 1 otherwise), the attention key ``j`` receives is
    ``sum_q w_q A[q, j] = exp(logsumexp_q(scale q_q.k_j + log w_q - lse_q))``: the row
    logsumexp of a second attention pass whose queries are the keys and whose keys are the
    original queries, each with the bias ``log w_q - lse_q``. The fused kernel takes no bias, so
    the bias rides in one extra head dimension: ``k' = [k_j, 1]`` and ``q' = [q_q, bias / scale]``
    give ``scale q'.k' = scale q_q.k_j + bias_q``. Only the non-keyframe keys are queried. Why:
    on the CPU the explicit softmax over ``N x N`` logits cost one to three times the fused
    attention (ViT-B block, N = 2592, one or two threads), which never forms it; the second pass
    costs less than one attention (the values it averages, ``v = q'``, are wasted: the kernel
    needs them). Float32 error: about ``eps * |largest logit|`` relative to the largest score,
    since ``-lse / scale`` rides in the matrix product. Not differentiable.

    Args:
        q, k (Tensor): ``(B, heads, N, C / heads)`` unscaled queries and keys of the attention
            that produced ``lse``; the first ``Nk`` tokens are the keyframe tokens.
        lse (Tensor): ``(B, heads, N)`` logsumexp over the keys of ``scale * q k^T``.
        num_keyframe (int): ``Nk``.
        enhanced_weight (float): ``ew > 0``, the weight of the keyframe-query rows.
        scale (float): the attention scale.

    Returns:
        Tensor: ``(B, N - Nk)`` scores in at least float32.
    """
    batch, heads, num_tokens, head_dims = q.shape
    dtype = torch.promote_types(q.dtype, torch.float32)
    with torch.no_grad():
        log_weight = lse.new_zeros(num_tokens, dtype=dtype)
        log_weight[:num_keyframe] = math.log(enhanced_weight)
        bias = log_weight - lse.to(dtype)  # (B, heads, N)
        keys = q.new_empty(batch, heads, num_tokens, head_dims + 1, dtype=dtype)
        keys[..., :head_dims] = q
        keys[..., head_dims] = bias / scale
        queries = k.new_empty(batch, heads, num_tokens - num_keyframe, head_dims + 1, dtype=dtype)
        queries[..., :head_dims] = k[:, :, num_keyframe:]
        queries[..., head_dims] = 1.
        _, received = _cpu_flash_attention(queries, keys, keys, 0., False, scale=scale)
        return received.exp().sum(dim=1) / (num_tokens * heads)


# An opaque custom op for the same reason as keyframe_importance (tracers see one node).
keyframe_importance_from_lse = torch.library.custom_op(
    'mmevad::keyframe_importance_from_lse', keyframe_importance_from_lse_eager, mutates_args=())


@keyframe_importance_from_lse.register_fake
def _keyframe_importance_from_lse_fake(q, k, lse, num_keyframe, enhanced_weight, scale):
    dtype = torch.promote_types(q.dtype, torch.float32)
    return q.new_empty(q.shape[0], q.shape[2] - num_keyframe, dtype=dtype)


# Query rows per chunk of :func:`attention_and_importance_eager`: with one head per thread, a
# chunk's probabilities (128 x N floats, 1.3 MiB at N = 2592) stay near the core's cache. On a
# 2-core CPU, 128 and 256 rows of one head per thread were fastest (within run-to-run noise of
# each other); 64 rows pay per-op overhead, 512 rows or all heads at once leave the cache.
_ONE_PASS_ROWS = 128


def attention_and_importance_eager(q: Tensor, k: Tensor, v: Tensor, num_keyframe: int,
                                   enhanced_weight: float, scale: float) -> Tuple[Tensor, Tensor]:
    """Attention output and :func:`keyframe_importance_eager`'s scores in one pass (no grad).

    The fused kernel never forms the probabilities, so the scores cost it a second pass
    (:func:`keyframe_importance_from_lse_eager`, about one more attention). Here each chunk of
    query rows of a few heads forms ``P = softmax(scale q k^T)`` explicitly, multiplies it with
    ``v`` for the output and adds its weighted column sums to the scores, in chunks small enough
    to stay in cache; on a 2-core CPU this costs 20 % less than attention plus second pass
    (README, "Speed"). The output equals the fused kernel's up to float rounding (1e-7 relative
    in float32), not bitwise. For inference only: it builds no graph.

    Args:
        q, k, v (Tensor): ``(B, heads, N, C / heads)``, queries unscaled; the first ``Nk``
            tokens are the keyframe tokens.
        num_keyframe (int): ``Nk``.
        enhanced_weight (float): weight of the keyframe-query rows.
        scale (float): the attention scale.

    Returns:
        tuple[Tensor, Tensor]: ``(B, heads, N, C / heads)`` attention output and ``(B, N - Nk)``
        scores (as :func:`keyframe_importance_eager`).
    """
    batch, heads, num_tokens, head_dims = q.shape
    with torch.no_grad():
        q = (q * scale).reshape(batch * heads, num_tokens, head_dims)
        k_t = k.reshape(batch * heads, num_tokens, head_dims).transpose(1, 2)
        v = v.reshape(batch * heads, num_tokens, head_dims)
        out = torch.empty_like(q)
        received = q.new_zeros(batch * heads, 1, num_tokens)
        row_weight = q.new_ones(1, 1, num_tokens)
        row_weight[..., :num_keyframe] = enhanced_weight
        # one head per thread and chunk: fewer heads leave threads idle, more leave the cache;
        # on many-core machines the chunk stays within 2**22 probabilities (16 MiB)
        group = max(1, min(batch * heads, torch.get_num_threads(),
                           _CHUNK_ELEMENTS // (_ONE_PASS_ROWS * num_tokens)))
        for first in range(0, batch * heads, group):
            hs = slice(first, min(first + group, batch * heads))
            for start in range(0, num_tokens, _ONE_PASS_ROWS):
                rows = slice(start, min(start + _ONE_PASS_ROWS, num_tokens))
                probs = torch.bmm(q[hs, rows], k_t[hs]).softmax(dim=-1)  # (g, rows, N)
                out[hs, rows] = torch.bmm(probs, v[hs])
                received[hs] += row_weight[..., rows] @ probs
        score = received.view(batch, heads, num_tokens)[:, :, num_keyframe:].sum(dim=1)
        return out.view(batch, heads, num_tokens, head_dims), score / (num_tokens * heads)


# An opaque custom op for the same reason as keyframe_importance (tracers see one node).
attention_and_importance = torch.library.custom_op(
    'mmevad::attention_and_importance', attention_and_importance_eager, mutates_args=())


@attention_and_importance.register_fake
def _attention_and_importance_fake(q, k, v, num_keyframe, enhanced_weight, scale):
    dtype = torch.promote_types(q.dtype, torch.float32)
    return (torch.empty_like(q), q.new_empty(q.shape[0], q.shape[2] - num_keyframe, dtype=dtype))


_PORTABLE = [False]


@contextlib.contextmanager
def portable_importance() -> Iterator[None]:
    """Rank tokens with the device-independent path (fused attention, then
    :func:`keyframe_importance`) inside this context, also on the CPU.

    The FLOP counter (``tools/analysis_tools/get_flops.py``) and the ONNX export use it: the
    counter books the recomputation of ``q k^T`` under its own name, and ONNX has no form of the
    CPU flash kernel. The scores are the same up to float rounding (tested).
    """
    previous = _PORTABLE[0]
    _PORTABLE[0] = True
    try:
        yield
    finally:
        _PORTABLE[0] = previous


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
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int = 8,
                 qkv_bias: bool = True,
                 attn_drop_rate: float = 0.,
                 drop_rate: float = 0.) -> None:
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims={embed_dims} is not divisible by '
                             f'num_heads={num_heads}')
        super().__init__(
            embed_dims,
            num_heads=num_heads,
            qkv_bias=qkv_bias,
            attn_drop_rate=attn_drop_rate,
            drop_rate=drop_rate)

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
        return F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop.p if self.training else 0., scale=self.scale)

    def forward(self, x: Tensor) -> Tensor:
        """Args:
            x (Tensor): ``(B, N, C)``.

        Returns:
            Tensor: ``(B, N, C)``.
        """
        q, k, v = self.qkv_heads(x)
        return self.merge_heads(self.attend(q, k, v))

    def _cpu_path(self, q: Tensor, enhanced_weight: float) -> bool:
        """Whether :meth:`forward_and_importance` takes one of the CPU paths."""
        return (q.device.type == 'cpu' and not _PORTABLE[0]
                and not torch.jit.is_tracing() and enhanced_weight > 0
                and not (self.training and self.attn_drop.p > 0)
                and q.dtype in (torch.float32, torch.float64)
                and not torch.is_autocast_enabled('cpu'))

    def forward_and_importance(self, x: Tensor, num_keyframe: int,
                               enhanced_weight: float) -> Tuple[Tensor, Tensor]:
        """The attention output plus the keyframe-centric importance of the non-keyframe tokens.

        Wherever gradients are needed the output is computed exactly as :meth:`forward` (same
        kernel, so gradient checkpointing can recompute it with :meth:`forward`); the scores use
        the pre-dropout probabilities (attention dropout is 0 in EVAD) of detached queries and
        keys. Three paths, chosen by device and by whether the queries need gradients:

        - CPU inference (queries without gradient, float32/64, ``enhanced_weight > 0``):
          :func:`attention_and_importance`, output and scores in one chunked pass (the output
          then equals the fused kernel's up to float rounding, not bitwise).
        - CPU training (float32/64 queries and keys, no attention dropout,
          ``enhanced_weight > 0``): the CPU flash kernel that
          ``scaled_dot_product_attention`` runs there, called directly for its row logsumexps,
          then :func:`keyframe_importance_from_lse`, cheaper than the recomputation below
          (README, "Speed").
        - otherwise (CUDA, dropout, :func:`portable_importance`, jit tracing, bf16/fp16 under
          autocast, where the kernel's logsumexps carry half-precision errors of ~0.5 % that
          the recomputation in float32 does not have):
          ``scaled_dot_product_attention`` and :func:`keyframe_importance`, which rebuilds the
          probabilities in chunks. (CUDA's fused kernels return logsumexps too, but their
          private signatures differ by kernel and version; this path was not measured there.)

        Args:
            x (Tensor): ``(B, N, C)`` normalised tokens, keyframe tokens first.
            num_keyframe (int): ``Nk``.
            enhanced_weight (float): weight of the keyframe-query rows.

        Returns:
            tuple[Tensor, Tensor]: ``(B, N, C)`` output and ``(B, N - Nk)`` scores.
        """
        q, k, v = self.qkv_heads(x)
        if self._cpu_path(q, enhanced_weight):
            if not q.requires_grad:
                out, score = attention_and_importance(q, k, v, int(num_keyframe),
                                                      float(enhanced_weight), float(self.scale))
                return self.merge_heads(out), score
            out, lse = _cpu_flash_attention(q, k, v, 0., False, scale=self.scale)
            score = keyframe_importance_from_lse(q.detach(), k.detach(), lse.detach(),
                                                 int(num_keyframe), float(enhanced_weight),
                                                 float(self.scale))
            return self.merge_heads(out), score
        out = self.merge_heads(self.attend(q, k, v))
        score = keyframe_importance(q.detach(), k.detach(), int(num_keyframe),
                                    float(enhanced_weight), float(self.scale))
        return out, score
