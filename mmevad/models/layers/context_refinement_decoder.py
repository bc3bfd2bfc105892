"""The context refinement decoder (CRD) of EVAD and its per-layer action heads
(docs/algorithm.md#crd)."""
from typing import List, Optional

import torch
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor, nn

from .attention import QVBiasAttention
from .transformer_block import TransformerBlock

__all__ = ['ActionClsHead', 'ContextRefinementDecoder']


class ActionClsHead(nn.Module):
    """``Linear(C -> hidden, no bias) -> LayerNorm -> ReLU -> Linear(hidden -> K)``
    (docs/algorithm.md#action-heads).

    Args:
        in_channels (int): actor token width ``Cd``.
        hidden_channels (int): hidden width (``SparseRCNN.ACT_FC_DIM``). Defaults to 2048.
        num_classes (int): action logits ``K``. Defaults to 80.
        norm_eps (float): LayerNorm epsilon. Defaults to 1e-5 (PyTorch's default, as in EVAD).
    """

    def __init__(self,
                 in_channels: int,
                 hidden_channels: int = 2048,
                 num_classes: int = 80,
                 norm_eps: float = 1e-5) -> None:
        super().__init__()
        self.fc = nn.Linear(in_channels, hidden_channels, bias=False)
        self.norm = build_norm_layer(dict(type='LN', eps=norm_eps), hidden_channels)[1]
        self.act = nn.ReLU(inplace=True)
        self.fc_cls = nn.Linear(hidden_channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Args:
            x (Tensor): ``(..., Cd)`` actor tokens.

        Returns:
            Tensor: ``(..., K)`` action logits.
        """
        return self.fc_cls(self.act(self.norm(self.fc(x))))


class ContextRefinementDecoder(BaseModule):
    """Pre-norm transformer over ``context tokens ++ actor tokens`` with an action head per layer.

    Every block attends over all tokens (context <-> actors, actors <-> actors); after block ``j``
    its own :class:`ActionClsHead` reads the last ``P`` tokens (the actors, not normed) and emits
    action logits. There is no final norm (docs/algorithm.md#crd). The block layout (and with it the
    parameter names) is that of the VideoMAE pre-training decoder, so its weights can initialise the
    first blocks (docs/algorithm.md#initialization).

    Args:
        embed_dims (int): decoder width ``Cd``. Defaults to 384 (ViT-B; 512 for ViT-L).
        depth (int): number of blocks. Defaults to 6 (ViT-B; 12 for ViT-L).
        num_heads (int): attention heads. Defaults to 6 (ViT-B; 8 for ViT-L).
        mlp_ratio (float): MLP hidden width / ``Cd``. Defaults to 4.
        qkv_bias (bool): learn q and v biases. Defaults to True.
        drop_path_rate (float): stochastic depth of the last block; rates grow linearly from 0
            over the blocks. Defaults to 0.1.
        num_classes (int): action logits ``K`` per actor. Defaults to 80.
        action_hidden_dims (int): hidden width of each action head. Defaults to 2048.
        with_cp (bool): gradient-checkpoint every block. Defaults to False.
        init_cfg (dict, optional): initialisation config applied after the default
            initialisation of :meth:`init_weights`. Defaults to None.
    """

    def __init__(self,
                 embed_dims: int = 384,
                 depth: int = 6,
                 num_heads: int = 6,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop_path_rate: float = 0.1,
                 num_classes: int = 80,
                 action_hidden_dims: int = 2048,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if depth < 1:
            raise ValueError(f'depth={depth}: the decoder needs at least one block')
        rates = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]  # 0 -> rate
        self.blocks = nn.ModuleList(
            TransformerBlock(
                embed_dims,
                num_heads,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                drop_path_rate=rate,
                norm_cfg=dict(type='LN', eps=1e-6),
                with_cp=with_cp) for rate in rates)
        self.action_heads = nn.ModuleList(
            ActionClsHead(embed_dims, action_hidden_dims, num_classes) for _ in range(depth))

    def init_weights(self) -> None:
        """docs/algorithm.md#initialization (EVAD's head init): Xavier-uniform on every weight
        matrix, zero biases (q/v biases included), LayerNorm 1/0; then ``init_cfg``, if any."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, QVBiasAttention) and hasattr(module, 'q_bias'):
                nn.init.zeros_(module.q_bias)
                nn.init.zeros_(module.v_bias)
        super().init_weights()

    def forward(self, context: Tensor, actors: Tensor) -> List[Tensor]:
        """Refine the actor tokens with the context and classify them after every block.

        Args:
            context (Tensor): ``(B, Nc, Cd)`` context tokens, position embedding already added.
            actors (Tensor): ``(B, P, Cd)`` actor tokens (``P`` may be 0).

        Returns:
            list[Tensor]: one ``(B, P, K)`` logit tensor per block, first block first.
        """
        num_actors = actors.shape[1]
        x = torch.cat((context, actors), dim=1)
        logits = []
        for block, head in zip(self.blocks, self.action_heads):
            x = block(x)
            logits.append(head(x[:, x.shape[1] - num_actors:]))
        return logits
