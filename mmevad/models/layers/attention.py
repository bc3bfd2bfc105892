"""Multi-head self-attention with VideoMAE's q/v biases, fused by default."""
import torch
import torch.nn.functional as F
from mmaction.models.backbones.vit_mae import Attention
from torch import Tensor

__all__ = ['QVBiasAttention']


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

    def forward(self, x: Tensor) -> Tensor:
        """Args:
            x (Tensor): ``(B, N, C)``.

        Returns:
            Tensor: ``(B, N, C)``.
        """
        q, k, v = self.qkv_heads(x)
        if self.fused:
            out = F.scaled_dot_product_attention(
                q, k, v,
                dropout_p=self.attn_drop.p if self.training else 0.,
                scale=self.scale)
        else:
            attn = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
            out = self.attn_drop(attn) @ v
        return self.merge_heads(out)
