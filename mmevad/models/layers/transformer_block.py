"""The pre-norm ViT block shared by the backbone and the context refinement decoder."""
from typing import List, Optional, Tuple

import torch.utils.checkpoint as cp
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks import DropPath
from mmcv.cnn.bricks.transformer import FFN
from mmengine.model import BaseModule
from torch import Tensor, nn

from .attention import QVBiasAttention

__all__ = ['TransformerBlock']


class TransformerBlock(BaseModule):
    """``x + DropPath(Attn(LN1(x)))`` then ``x + DropPath(MLP(LN2(x)))``.

    Parameter names are those of mmaction2's VideoMAE ``Block`` (``norm1``, ``attn.{qkv, q_bias,
    v_bias, proj}``, ``norm2``, ``mlp.layers.{0.0, 1}``), so VideoMAE weights load unchanged.
    No layer scale: neither VideoMAE fine-tuning nor EVAD uses it
    (docs/algorithm.md#backbone-hparams).

    Args:
        embed_dims (int): token width ``C``.
        num_heads (int): attention heads.
        mlp_ratio (float): MLP hidden width / ``C``. Defaults to 4.
        qkv_bias (bool): learn q and v biases. Defaults to True.
        drop_rate (float): dropout after the attention projection and in the MLP. Defaults to 0.
        attn_drop_rate (float): dropout on attention probabilities. Defaults to 0.
        drop_path_rate (float): stochastic depth of both residual branches. Defaults to 0.
        norm_cfg (dict): norm layers. Defaults to ``dict(type='LN', eps=1e-6)``.
        with_cp (bool): gradient-checkpoint the attention and the MLP branch separately.
            Defaults to False.
        init_cfg (dict, optional): initialisation config. Defaults to None.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 norm_cfg: Optional[dict] = None,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        norm_cfg = norm_cfg or dict(type='LN', eps=1e-6)
        self.norm1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.attn = QVBiasAttention(
            embed_dims,
            num_heads=num_heads,
            qkv_bias=qkv_bias,
            attn_drop_rate=attn_drop_rate,
            drop_rate=drop_rate)
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        self.norm2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.mlp = FFN(
            embed_dims=embed_dims,
            feedforward_channels=int(embed_dims * mlp_ratio),
            act_cfg=dict(type='GELU'),
            ffn_drop=drop_rate,
            add_identity=False)
        self.with_cp = with_cp

    def attention_branch(self, x: Tensor) -> Tensor:
        """``Attn(LN1(x))``, ``(B, N, C) -> (B, N, C)``."""
        return self.attn(self.norm1(x))

    def mlp_branch(self, x: Tensor) -> Tensor:
        """``MLP(LN2(x))``, ``(B, N, C) -> (B, N, C)``."""
        return self.mlp(self.norm2(x))

    def _run(self, branch, x: Tensor) -> Tensor:
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(branch, x, use_reentrant=False)
        return branch(x)

    def attention_residual(self, x: Tensor) -> Tensor:
        """``x + DropPath(Attn(LN1(x)))``, ``(B, N, C) -> (B, N, C)``."""
        return x + self.drop_path(self._run(self.attention_branch, x))

    def mlp_residual(self, x: Tensor) -> Tensor:
        """``x + DropPath(MLP(LN2(x)))``, ``(B, N, C) -> (B, N, C)``."""
        return x + self.drop_path(self._run(self.mlp_branch, x))

    def attention_residual_and_importance(self, x: Tensor, num_keyframe: int,
                                          enhanced_weight: float) -> Tuple[Tensor, Tensor]:
        """:meth:`attention_residual` plus the importance of every non-keyframe token.

        The score is the attention each non-keyframe token receives in this block, keyframe
        queries weighted by ``enhanced_weight`` (docs/algorithm.md#pruning, see
        :func:`~mmevad.models.layers.keyframe_importance`). With ``with_cp`` the attention
        branch is checkpointed like in :meth:`attention_residual`; the scores are computed in the
        forward pass only, not again when the backward pass recomputes the branch.

        Args:
            x (Tensor): ``(B, N, C)``, the ``Nk`` keyframe tokens first.
            num_keyframe (int): ``Nk``.
            enhanced_weight (float): weight of the keyframe-query rows.

        Returns:
            tuple[Tensor, Tensor]: ``(B, N, C)`` block state after the attention residual and
            ``(B, N - Nk)`` scores (no gradient).
        """
        scores: List[Tensor] = []

        def branch(inp: Tensor) -> Tensor:
            inp = self.norm1(inp)
            if scores:  # recomputation for the backward pass: the output is all it needs
                return self.attn(inp)
            out, score = self.attn.forward_and_importance(inp, num_keyframe, enhanced_weight)
            scores.append(score)
            return out

        x = x + self.drop_path(self._run(branch, x))
        return x, scores[0]

    def forward(self, x: Tensor) -> Tensor:
        """Args:
            x (Tensor): ``(B, N, C)``.

        Returns:
            Tensor: ``(B, N, C)``.
        """
        return self.mlp_residual(self.attention_residual(x))
