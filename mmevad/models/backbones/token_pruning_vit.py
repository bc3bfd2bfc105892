"""VideoMAE ViT with EVAD's keyframe-centric token pruning (spec ``evad-algorithm.md`` §1)."""
import math
from typing import List, Sequence, Set, Tuple, Union

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_norm_layer
from mmcv.cnn.bricks.transformer import PatchEmbed
from mmengine.model import BaseModule, ModuleList
from torch import Tensor

from mmaction.registry import MODELS
from mmaction.utils import ConfigType, OptMultiConfig
from mmevad.structures import TokenPruningOutput
from ..layers import TransformerBlock, get_sinusoid_encoding, resize_pos_embed

__all__ = ['TokenPruningViT', 'pruning_schedule']

NUM_FEATURE_MAPS = 4  # keyframe maps for the FPN: p2..p5

OUT_TYPES = ('evad', 'dense')
KEPT_TOKEN_ORDERS = ('official', 'sorted')


def pruning_schedule(num_tokens: int, num_keyframe: int,
                     keep_rates: Sequence[float]) -> List[int]:
    """Token count after every block under EVAD's pruning budget (spec §1.6 step 1, D3, D13).

    A block with keep rate ``r < 1`` keeps ``ceil(r * N)`` of its ``N`` tokens, keyframe tokens
    included, i.e. ``ceil(r * N) - Nk`` non-keyframe tokens. A block where that keeps every token
    changes nothing (D13).

    Args:
        num_tokens (int): ``N0 = t * Nk`` tokens entering the first block.
        num_keyframe (int): ``Nk`` keyframe tokens, never pruned.
        keep_rates (Sequence[float]): one rate per block.

    Returns:
        list[int]: ``N`` after each block (same length as ``keep_rates``).

    Raises:
        ValueError: a block's budget keeps no non-keyframe token.
    """
    counts = []
    for index, rate in enumerate(keep_rates):
        kept = min(math.ceil(rate * num_tokens), num_tokens)
        if kept < num_tokens and kept - num_keyframe < 1:
            raise ValueError(
                f'keep_rates[{index}]={rate} keeps ceil({rate} * {num_tokens}) = {kept} tokens '
                f'at block {index}, but the {num_keyframe} keyframe tokens alone fill that '
                f'budget, so no non-keyframe token would survive; raise that keep rate, prune '
                f'in fewer blocks, or use a clip with more temporal slots')
        num_tokens = kept
        counts.append(num_tokens)
    return counts


@MODELS.register_module()
class TokenPruningViT(BaseModule):
    """VideoMAE ViT backbone with keyframe-centric token pruning (EVAD, spec §1).

    Tubelet embedding and the fixed sinusoid position table (interpolated per temporal slot,
    §1.3), then the keyframe slot ``t // 2`` is moved to the front (§1.5). Blocks whose keep rate
    is below 1 rank the non-keyframe tokens by the attention they receive in that block
    (keyframe-query rows weighted by ``enhanced_weight``) and keep the top ``ceil(r * N) - Nk``
    (§1.6); the MLP of that block runs on the kept tokens only. Keyframe tokens are never pruned.

    Parameter names are those of mmaction2's ``VisionTransformer`` with
    ``use_mean_pooling=False`` (``patch_embed.projection``, ``blocks.i.{norm1, attn.{qkv,
    q_bias, v_bias, proj}, norm2, mlp.layers.{0.0, 1}}``, ``norm``), so its VideoMAE checkpoints
    load unchanged. The position table is a non-persistent buffer (D18); a ``pos_embed`` entry
    in a loaded state dict (mmaction2 saves one) is checked against the table and dropped.

    Args:
        img_size (int): pre-training image size the position table is built for. Defaults to 224.
        patch_size (int): spatial patch size. Defaults to 16.
        in_channels (int): input channels. Defaults to 3.
        embed_dims (int): token width ``C``. Defaults to 768.
        depth (int): number of blocks. Defaults to 12.
        num_heads (int): attention heads. Defaults to 12.
        mlp_ratio (float): MLP hidden width / ``C``. Defaults to 4.
        qkv_bias (bool): learn q and v biases. Defaults to True.
        drop_path_rate (float): stochastic depth, increasing linearly from 0 over the blocks.
            Defaults to 0.
        norm_cfg (dict): norm layers. Defaults to ``dict(type='LN', eps=1e-6)``.
        num_frames (int): input frames ``T``; ``T / tubelet_size`` temporal slots must be even.
            Defaults to 16.
        tubelet_size (int): frames per tubelet. Defaults to 2.
        keep_rates (Sequence[float]): one keep rate in (0, 1] per block; 1 means no pruning.
            Defaults to ``(1.,) * 12``.
        enhanced_weight (float): weight of the keyframe queries in the importance score.
            Defaults to 1.
        feature_taps (Sequence[int]): four increasing block indices whose raw keyframe outputs
            become the maps of ``out_type='evad'``. Defaults to (2, 5, 8, 11).
        feature_strides (Sequence[int]): strides of those maps, one per tap; each keyframe map
            is resampled (nearest, §1.9) from the patch grid by ``patch_size / stride``, a power
            of two. The default gives the spec's x4/x2/x1/x0.5 for patch 16, and the same FPN
            strides for other patch sizes. Defaults to (4, 8, 16, 32).
        stem_channels (Sequence[int]): widths of an optional convolutional stem run on every
            frame before the tubelet embedding: one 3x3 stride-2 convolution + BN + ReLU per
            entry, after which the tubelet convolution covers ``patch_size / 2**len`` pixels.
            Empty (VideoMAE's single tubelet convolution) by default; a stem is for training
            small models from scratch, where early convolutions learn faster than a patchify
            layer (Xiao et al., "Early Convolutions Help Transformers See Better", 2021).
            Defaults to ().
        kept_token_order (str): order of the kept non-keyframe tokens in the output. 'official'
            keeps the top-k (descending score) order of the last pruning block that the
            released EVAD models were trained with (spec D1); 'sorted' orders them by position.
            Only the order differs. Defaults to 'official'.
        out_type (str): 'evad' returns a :class:`~mmevad.structures.TokenPruningOutput`;
            'dense' returns one ``(B, C, t, h, w)`` map with every kept token at its position
            and zeros at pruned positions (a drop-in for mmaction2's ``VisionTransformer`` with
            ``return_feat_map=True``). Defaults to 'evad'.
        with_cp (bool): gradient-checkpoint the attention and MLP branch of every block
            separately; outputs and gradients are unchanged. Defaults to False.
        init_cfg (dict or list[dict], optional): initialisation; None gives VideoMAE's
            (truncated normal std 0.02 for linear layers, LayerNorm 1/0). Defaults to None.
    """

    def __init__(self,
                 img_size: int = 224,
                 patch_size: int = 16,
                 in_channels: int = 3,
                 embed_dims: int = 768,
                 depth: int = 12,
                 num_heads: int = 12,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop_path_rate: float = 0.,
                 norm_cfg: ConfigType = dict(type='LN', eps=1e-6),
                 num_frames: int = 16,
                 tubelet_size: int = 2,
                 keep_rates: Sequence[float] = (1., ) * 12,
                 enhanced_weight: float = 1.,
                 feature_taps: Sequence[int] = (2, 5, 8, 11),
                 feature_strides: Sequence[int] = (4, 8, 16, 32),
                 stem_channels: Sequence[int] = (),
                 kept_token_order: str = 'official',
                 out_type: str = 'evad',
                 with_cp: bool = False,
                 init_cfg: OptMultiConfig = None) -> None:
        if init_cfg is None:
            init_cfg = [
                dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
                dict(type='Constant', layer='LayerNorm', val=1., bias=0.)
            ]
        super().__init__(init_cfg=init_cfg)
        self._check_args(img_size, patch_size, depth, num_frames, tubelet_size, keep_rates,
                         enhanced_weight, feature_taps, feature_strides, stem_channels,
                         kept_token_order, out_type)
        self.embed_dims = embed_dims
        self.patch_size = patch_size
        self.in_channels = in_channels
        self.num_frames = num_frames
        self.keep_rates = tuple(float(rate) for rate in keep_rates)
        self.enhanced_weight = float(enhanced_weight)
        self.feature_taps = tuple(int(index) for index in feature_taps)
        self.feature_strides = tuple(int(stride) for stride in feature_strides)
        self.kept_token_order = kept_token_order
        self.out_type = out_type

        self.stem = ModuleList()
        stem_in = in_channels
        for channels in stem_channels:
            self.stem.append(
                ConvModule(stem_in, channels, kernel_size=(1, 3, 3), stride=(1, 2, 2),
                           padding=(0, 1, 1), conv_cfg=dict(type='Conv3d'),
                           norm_cfg=dict(type='BN3d'), act_cfg=dict(type='ReLU')))
            stem_in = channels
        embed_patch = patch_size // 2**len(stem_channels)
        self.patch_embed = PatchEmbed(
            in_channels=stem_in,
            embed_dims=embed_dims,
            conv_type='Conv3d',
            kernel_size=(tubelet_size, embed_patch, embed_patch),
            stride=(tubelet_size, embed_patch, embed_patch),
            padding=(0, 0, 0),
            dilation=(1, 1, 1))
        grid = img_size // patch_size
        self.pos_grid = (num_frames // tubelet_size, grid, grid)
        # fixed table, rebuilt here rather than loaded (D18)
        self.register_buffer(
            'pos_embed', get_sinusoid_encoding(math.prod(self.pos_grid), embed_dims),
            persistent=False)
        drop_path_rates = torch.linspace(0, drop_path_rate, depth).tolist()
        self.blocks = ModuleList([
            TransformerBlock(
                embed_dims,
                num_heads,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                drop_path_rate=drop_path_rates[i],
                norm_cfg=norm_cfg,
                with_cp=with_cp) for i in range(depth)
        ])
        self.norm = build_norm_layer(norm_cfg, embed_dims)[1]

    @staticmethod
    def _check_args(img_size, patch_size, depth, num_frames, tubelet_size, keep_rates,
                    enhanced_weight, feature_taps, feature_strides, stem_channels,
                    kept_token_order, out_type) -> None:
        if out_type not in OUT_TYPES:
            raise ValueError(f'out_type={out_type!r} is not one of {OUT_TYPES}')
        if kept_token_order not in KEPT_TOKEN_ORDERS:
            raise ValueError(
                f'kept_token_order={kept_token_order!r} is not one of {KEPT_TOKEN_ORDERS}')
        if img_size % patch_size:
            raise ValueError(f'img_size={img_size} is not a multiple of '
                             f'patch_size={patch_size}')
        slots = num_frames // tubelet_size
        if num_frames % tubelet_size or slots % 2 or slots < 2:
            raise ValueError(
                f'num_frames={num_frames} with tubelet_size={tubelet_size} does not give an '
                f'even number of temporal slots; the keyframe slot is the middle one of an even '
                f'count (e.g. 16 frames, tubelet 2)')
        if len(keep_rates) != depth:
            raise ValueError(f'keep_rates has {len(keep_rates)} entries but depth is {depth}; '
                             f'give one rate per block')
        bad = [rate for rate in keep_rates if not 0 < rate <= 1]
        if bad:
            raise ValueError(f'keep_rates must lie in (0, 1], got {bad}')
        if enhanced_weight < 0:
            raise ValueError(f'enhanced_weight must be >= 0, got {enhanced_weight}')
        taps = list(feature_taps)
        if (len(taps) != NUM_FEATURE_MAPS or taps != sorted(set(taps))
                or not all(0 <= index < depth for index in taps)):
            raise ValueError(
                f'feature_taps={tuple(feature_taps)} must be {NUM_FEATURE_MAPS} distinct '
                f'increasing block indices in [0, {depth}), e.g. (2, 5, 8, 11) for depth 12')
        strides = list(feature_strides)
        if len(strides) != NUM_FEATURE_MAPS or not all(
                stride > 0 and math.log2(patch_size / stride).is_integer() for stride in strides):
            raise ValueError(
                f'feature_strides={tuple(feature_strides)} must be {NUM_FEATURE_MAPS} strides '
                f'that each differ from patch_size={patch_size} by a power of two (the maps are '
                f'resampled from the patch grid), e.g. (4, 8, 16, 32)')
        if stem_channels and (patch_size % 2**len(stem_channels)
                              or not all(int(c) > 0 for c in stem_channels)):
            raise ValueError(
                f'stem_channels={tuple(stem_channels)} must be positive widths of at most '
                f'log2(patch_size) stride-2 convolutions whose total stride divides '
                f'patch_size={patch_size}, e.g. (16, 32, 64) for patch 8')

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        # mmaction2's VisionTransformer saves its sinusoid table as a persistent buffer. Ours is
        # rebuilt at construction (D18), so the entry is dropped after checking that it is that
        # same table (a learned table would silently change the model).
        table = state_dict.pop(prefix + 'pos_embed', None)
        if table is not None:
            rows = min(table.shape[1], self.pos_embed.shape[1])
            if (table.shape[-1] != self.embed_dims or not torch.allclose(
                    table[:, :rows].float().cpu(), self.pos_embed[:, :rows].cpu(),
                    atol=1e-4)):
                raise ValueError(
                    f'the checkpoint entry {prefix}pos_embed {tuple(table.shape)} is not the '
                    f'fixed sinusoid table this backbone builds; learned position embeddings '
                    f'are not supported, remove the entry to load the other weights')
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    def no_weight_decay(self) -> Set[str]:
        """Names of the parameters that take no weight decay (spec §4.4): every bias and every
        1-D parameter (LayerNorms, ``q_bias``/``v_bias``). Names are relative to this module;
        the position table is a buffer and not listed."""
        return {
            name
            for name, param in self.named_parameters()
            if param.ndim <= 1 or name.endswith('.bias')
        }

    def token_counts(self, grid: Tuple[int, int, int]) -> List[int]:
        """Tokens after each block for a ``(t, h, w)`` token grid (see :func:`pruning_schedule`)."""
        t, h, w = grid
        return pruning_schedule(t * h * w, h * w, self.keep_rates)

    def _embed(self, x: Tensor) -> Tuple[Tensor, Tuple[int, int, int]]:
        """Tubelet embedding plus position table, ``(B, 3, T, H, W) -> (B, t*h*w, C)``."""
        if x.dim() != 5 or x.shape[1] != self.in_channels:
            raise ValueError(f'expected a (B, {self.in_channels}, T, H, W) clip batch, got a '
                             f'tensor of shape {tuple(x.shape)}')
        _, _, frames, height, width = x.shape
        if frames != self.num_frames:
            raise ValueError(
                f'the clip has {frames} frames but the backbone was built for num_frames='
                f'{self.num_frames}; sample clips of {self.num_frames} frames (the position '
                f'table has no temporal interpolation)')
        if height % self.patch_size or width % self.patch_size:
            raise ValueError(
                f'the clip is {height}x{width} pixels, not a multiple of patch_size='
                f'{self.patch_size}; pad it (EVAD pads to a multiple of 32)')
        x, (t, h, w) = self._patchify(x)
        pos_embed = resize_pos_embed(self.pos_embed, self.pos_grid, (t, h, w))
        return x + pos_embed.to(x.dtype), (t, h, w)

    def _patchify(self, x: Tensor) -> Tuple[Tensor, Tuple[int, int, int]]:
        """Stem (if any) and tubelet convolution: ``(B, 3, T, H, W) -> (B, t*h*w, C)`` and the
        grid ``(t, h, w)``."""
        for conv in self.stem:
            x = conv(x)  # (B, C', T, H / 2, W / 2) per layer
        feats = self.patch_embed.projection(x)  # (B, C, t, h, w)
        grid = tuple(feats.shape[2:])
        return feats.flatten(2).transpose(1, 2), grid

    def forward(self, x: Tensor) -> Union[TokenPruningOutput, Tensor]:
        """Encode a clip batch, pruning non-keyframe tokens in blocks with keep rate < 1.

        Args:
            x (Tensor): ``(B, 3, T, H, W)`` with ``T = num_frames`` and ``H, W`` multiples of
                ``patch_size``.

        Returns:
            TokenPruningOutput | Tensor: with ``out_type='evad'``, ``keyframe_feats`` (four
            ``(B, C, s*h, s*w)`` maps, ``s`` = 4, 2, 1, 0.5), ``tokens`` ``(B, Nk + K, C)``
            after the final norm (keyframe tokens first), ``kept_index`` ``(B, K)``, ``grid``
            ``(t, h, w)`` and ``kept_index_per_block`` (one ``(B, K_i)`` per block); with ``out_type='dense'``, ``(B, C, t, h, w)``.
        """
        x, grid = self._embed(x)
        t, h, w = grid
        num_keyframe = h * w
        counts = self.token_counts(grid)  # validates every budget before any work
        batch, num_tokens, channels = x.shape
        # keyframe-first order (§1.5): slot t//2, then the other slots in temporal order
        slots = x.view(batch, t, num_keyframe, channels)
        key = t // 2
        x = torch.cat([slots[:, key:key + 1], slots[:, :key], slots[:, key + 1:]], 1)
        x = x.flatten(1, 2)
        # non-keyframe global index (§1.5) of each token in x[:, Nk:]
        kept_index = torch.arange(
            num_tokens - num_keyframe, device=x.device).repeat(batch, 1)

        taps = []
        # which tokens survive each block, for the kept-token view (indices only, no features)
        kept_per_block = []
        for index, (block, count) in enumerate(zip(self.blocks, counts)):
            if count == x.shape[1]:
                x = block(x)
            else:
                x, score = block.attention_residual_and_importance(
                    x, num_keyframe, self.enhanced_weight)
                x, kept_index = self._keep_top_tokens(x, score, kept_index, num_keyframe,
                                                      count - num_keyframe)
                x = block.mlp_residual(x)
            kept_per_block.append(kept_index)
            if index in self.feature_taps and self.out_type == 'evad':
                taps.append(x[:, :num_keyframe])
        x = self.norm(x)

        if self.kept_token_order == 'sorted':
            x, kept_index = self._sort_by_position(x, kept_index, num_keyframe)
        if self.out_type == 'dense':
            return self._to_dense(x, kept_index, grid)
        feats = tuple(
            self._keyframe_map(tap, h, w, self.patch_size / stride)
            for tap, stride in zip(taps, self.feature_strides))
        return TokenPruningOutput(feats, x, kept_index, grid, tuple(kept_per_block))

    @staticmethod
    def _keep_top_tokens(x: Tensor, score: Tensor, kept_index: Tensor, num_keyframe: int,
                         num_keep: int) -> Tuple[Tensor, Tensor]:
        """Keep the keyframe tokens and the ``num_keep`` best-scored others (§1.6 steps 3–5).

        Args:
            x (Tensor): ``(B, N, C)``.
            score (Tensor): ``(B, N - Nk)`` importance of ``x[:, Nk:]``.
            kept_index (Tensor): ``(B, N - Nk)`` global indices of ``x[:, Nk:]``.
            num_keyframe (int): ``Nk``.
            num_keep (int): non-keyframe tokens to keep.

        Returns:
            tuple[Tensor, Tensor]: ``(B, Nk + num_keep, C)`` tokens and ``(B, num_keep)``
            indices, both in descending score order (top-k order, D1).
        """
        local = score.topk(num_keep, dim=1, largest=True, sorted=True).indices
        others = x[:, num_keyframe:].gather(1, local[..., None].expand(-1, -1, x.shape[-1]))
        return torch.cat([x[:, :num_keyframe], others], 1), kept_index.gather(1, local)

    @staticmethod
    def _sort_by_position(x: Tensor, kept_index: Tensor,
                          num_keyframe: int) -> Tuple[Tensor, Tensor]:
        """Reorder ``x[:, Nk:]`` and ``kept_index`` by increasing global index."""
        kept_index, order = kept_index.sort(dim=1)
        others = x[:, num_keyframe:].gather(1, order[..., None].expand(-1, -1, x.shape[-1]))
        return torch.cat([x[:, :num_keyframe], others], 1), kept_index

    @staticmethod
    def _to_dense(x: Tensor, kept_index: Tensor, grid: Tuple[int, int, int]) -> Tensor:
        """Scatter tokens back to their positions: ``(B, Nk + K, C) -> (B, C, t, h, w)``,
        zeros at pruned positions."""
        t, h, w = grid
        num_keyframe = h * w
        batch, _, channels = x.shape
        key_start = (t // 2) * num_keyframe
        # non-keyframe global index -> flattened (t, h, w) position (§1.5)
        others = kept_index + num_keyframe * (kept_index >= key_start).long()
        keyframe = torch.arange(key_start, key_start + num_keyframe, device=x.device)
        position = torch.cat([keyframe.expand(batch, -1), others], 1)
        dense = x.new_zeros(batch, t * num_keyframe, channels).scatter(
            1, position[..., None].expand(-1, -1, channels), x)
        return dense.view(batch, t, h, w, channels).permute(0, 4, 1, 2, 3)

    @staticmethod
    def _keyframe_map(tokens: Tensor, h: int, w: int, scale: float) -> Tensor:
        """``(B, Nk, C)`` keyframe tokens -> ``(B, C, scale*h, scale*w)`` (nearest, §1.9)."""
        feat = tokens.transpose(1, 2).reshape(tokens.shape[0], -1, h, w)
        if scale == 1:
            return feat
        return F.interpolate(feat, scale_factor=scale, mode='nearest')
