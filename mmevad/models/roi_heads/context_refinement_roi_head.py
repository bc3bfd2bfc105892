"""EVAD's classification branch as an mmdet RoI head: token remapping, RoI extension, 3-D RoI
pooling and the context refinement decoder (docs/algorithm.md#context-refinement)."""
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmaction.utils import InstanceList, OptConfigType, OptMultiConfig, SampleList
from mmdet.registry import MODELS as MMDET_MODELS
from mmdet.registry import TASK_UTILS
from mmdet.structures.bbox import bbox2roi
from mmengine.model import BaseModule
from mmengine.model.weight_init import initialize
from mmengine.structures import InstanceData
from torch import Tensor, nn

from mmevad.structures import TokenPruningOutput, keyframe_first
from ..layers.context_refinement_decoder import ContextRefinementDecoder
from ..layers.pos_embed import get_sinusoid_encoding, resize_pos_embed
from ..utils.mmdet_build import build_in_mmdet_scope
from .bbox_transforms import bboxes_to_unit, extend_bboxes
from .roi_extractors import ActorTokenExtractor
from .token_remapping import KEPT_TOKEN_ORDERS, remap_tokens

__all__ = ['ContextRefinementRoIHead']

Features = Union[TokenPruningOutput, Tensor, Sequence[Tensor]]


@MMDET_MODELS.register_module()  # mmdet's FastRCNN builds its roi_head from mmdet's registry
@MODELS.register_module()
class ContextRefinementRoIHead(BaseModule):
    """Classify the actors in the given boxes with EVAD's context refinement
    (docs/algorithm.md#context-refinement).

    Encoder tokens are projected to the decoder width ``Cd`` and put back on the ``(t, h, w)``
    grid, with a learned mask token at dropped positions and a fixed sinusoid table
    (docs/algorithm.md#token-remapping). Each box is enlarged (RoI extension,
    docs/algorithm.md#roi-extension) and pooled from every temporal slice into one actor token
    (docs/algorithm.md#actor-tokens). Actor tokens and the surviving context tokens go through the
    context refinement decoder, whose every layer predicts ``num_classes`` action logits per actor
    (docs/algorithm.md#crd). Training: sigmoid BCE on the proposals matched to a ground-truth
    person, for every layer (docs/algorithm.md#action-loss). Test: the last layer's sigmoid scores
    for every given box (docs/algorithm.md#test-output). ``multilabel=False`` makes the classes
    exclusive (softmax).

    The head follows mmdet's RoI-head contract, so it works inside EVAD and in place of
    mmaction2's ``AVARoIHead`` in mmdet's ``FastRCNN`` with precomputed proposals.

    Args:
        in_channels (int): encoder width ``Ce`` (channels of a dense input map).
            Defaults to 768 (ViT-B; 1024 for ViT-L).
        embed_dims (int): decoder width ``Cd``. Defaults to 384 (ViT-B; 512 for ViT-L).
        depth (int): decoder blocks. Defaults to 6 (ViT-B; 12 for ViT-L).
        num_heads (int): decoder attention heads. Defaults to 6 (ViT-B; 8 for ViT-L).
        mlp_ratio (float): decoder MLP hidden width / ``Cd``. Defaults to 4.
        qkv_bias (bool): learn q and v biases in the decoder. Defaults to True.
        drop_path_rate (float): stochastic depth of the last decoder block (linear from 0).
            Defaults to 0.1.
        num_classes (int): action classes ``K`` predicted. Ground-truth labels are
            ``(num_gt, K + 1)`` multi-hot with column 0 unused (AVA layout) and ``predict``
            returns ``K + 1`` score columns the same way. Defaults to 80.
        action_hidden_dims (int): hidden width of each action head. Defaults to 2048.
        action_loss_weight (float): weight of every layer's action loss. Defaults to 12
            (ViT-B configs; 6 for ViT-L).
        multilabel (bool): True: each class is a sigmoid, trained with BCE (AVA, where a person
            has a pose and any number of interactions). False: the classes are exclusive, one
            softmax over the ``K`` classes trained with cross-entropy, for datasets with one
            action per person (UCF101-24, JHMDB-21, MultiSports; mmaction2's MultiSports configs
            use ``BBoxHeadAVA(multilabel=False)`` alike). A box whose ground truth has several
            labels then gets them as an even soft target. Defaults to True (EVAD on AVA).
        roi_extension (Sequence[float]): ``(sx, sy)`` relative enlargement of box width and
            height before pooling; ``(0, 0)`` only clips. Defaults to ``(0.4, 0.2)``.
        roi_layer (dict, optional): ``mmcv.ops`` RoI layer without ``spatial_scale``. Defaults
            to ``dict(type='RoIAlign', output_size=7, sampling_ratio=2, aligned=True)``.
        featmap_stride (int): input pixels per token (the patch size). Defaults to 16.
        kept_token_order (str): where kept non-keyframe tokens go on the grid; ``'official'``
            reproduces the released EVAD code (docs/official_behaviours.md#d1: ascending positions,
            tokens in score order), ``'sorted'`` puts every token at its own position. Defaults
            to ``'official'``, which converted official checkpoints need.
        pos_embed_grid (Sequence[int]): ``(t, h, w)`` grid of the sinusoid table before its
            spatial interpolation, VideoMAE's ``(num_frames / 2, 14, 14)``. Defaults to
            ``(8, 14, 14)``.
        with_cp (bool): gradient-checkpoint every decoder block. Defaults to False.
        train_cfg (dict, optional): only for proposals without ``assigned_gt_inds``:
            ``assigner`` (e.g. mmaction2's ``MaxIoUAssignerAVA``) and optionally ``sampler``
            (e.g. ``RandomSampler`` with ``add_gt_as_proposals=True``), as in mmaction2's AVA
            configs; built in mmdet's scope unless they name another ``_scope_``.
            Defaults to None.
        test_cfg (dict, optional): unused; accepted for mmdet's RoI-head contract.
        init_cfg (dict or list[dict], optional): applied after the default initialisation,
            e.g. ``dict(type='VideoMAEDecoderInit', checkpoint=...)``
            (docs/algorithm.md#initialization). Defaults to None.
    """

    def __init__(self,
                 in_channels: int = 768,
                 embed_dims: int = 384,
                 depth: int = 6,
                 num_heads: int = 6,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop_path_rate: float = 0.1,
                 num_classes: int = 80,
                 action_hidden_dims: int = 2048,
                 action_loss_weight: float = 12.,
                 multilabel: bool = True,
                 roi_extension: Sequence[float] = (0.4, 0.2),
                 roi_layer: OptConfigType = None,
                 featmap_stride: int = 16,
                 kept_token_order: str = 'official',
                 pos_embed_grid: Sequence[int] = (8, 14, 14),
                 with_cp: bool = False,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if kept_token_order not in KEPT_TOKEN_ORDERS:
            raise ValueError(f'kept_token_order={kept_token_order!r}; choose one of '
                             f'{KEPT_TOKEN_ORDERS}')
        if len(roi_extension) != 2 or min(roi_extension) < 0:
            raise ValueError(f'roi_extension={roi_extension!r}; give two non-negative numbers '
                             f'(sx, sy), e.g. (0.4, 0.2) or (0, 0)')
        if len(pos_embed_grid) != 3:
            raise ValueError(f'pos_embed_grid={pos_embed_grid!r}; give (t, h, w), e.g. (8, 14, 14)')
        self.in_channels = in_channels
        self.embed_dims = embed_dims
        self.num_classes = num_classes
        self.action_loss_weight = action_loss_weight
        self.multilabel = multilabel
        self.roi_extension = tuple(float(v) for v in roi_extension)
        self.kept_token_order = kept_token_order
        self.pos_embed_grid = tuple(pos_embed_grid)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg

        self.encoder_to_decoder = nn.Linear(in_channels, embed_dims, bias=False)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        # fixed table, rebuilt at construction and not stored in checkpoints
        # (docs/official_behaviours.md#d18)
        self.register_buffer(
            'pos_embed',
            get_sinusoid_encoding(
                self.pos_embed_grid[0] * self.pos_embed_grid[1] * self.pos_embed_grid[2],
                embed_dims),
            persistent=False)
        self.roi_extractor = ActorTokenExtractor(roi_layer, featmap_stride)
        self.decoder = ContextRefinementDecoder(
            embed_dims=embed_dims,
            depth=depth,
            num_heads=num_heads,
            mlp_ratio=mlp_ratio,
            qkv_bias=qkv_bias,
            drop_path_rate=drop_path_rate,
            num_classes=num_classes,
            action_hidden_dims=action_hidden_dims,
            with_cp=with_cp)

        self.bbox_assigner = None
        self.bbox_sampler = None
        if train_cfg is not None and train_cfg.get('assigner') is not None:
            self.bbox_assigner = build_in_mmdet_scope(TASK_UTILS, train_cfg['assigner'])
            if train_cfg.get('sampler') is not None:
                self.bbox_sampler = build_in_mmdet_scope(
                    TASK_UTILS, train_cfg['sampler'], default_args=dict(context=self))

    @property
    def num_loss_terms(self) -> int:
        """One ``loss_action`` per decoder layer (the divisor of ``EVAD``'s
        ``loss_reduction='mean'``, docs/official_behaviours.md#d10)."""
        return len(self.decoder.blocks)

    @property
    def with_bbox(self) -> bool:
        """Always True: mmdet's two-stage detectors refuse to predict without a box head."""
        return True

    def init_weights(self) -> None:
        """docs/algorithm.md#initialization: Xavier-uniform on every weight matrix of the head, the
        mask token included (docs/official_behaviours.md#d15), zero biases, LayerNorm 1/0; then
        ``init_cfg``.

        mmengine would apply a non-``Pretrained`` ``init_cfg`` *before* the children's own
        initialisation, which would overwrite a decoder transfer; so it is applied here last,
        the way mmengine treats ``Pretrained``.
        """
        nn.init.xavier_uniform_(self.encoder_to_decoder.weight)
        nn.init.xavier_uniform_(self.mask_token)
        transfer_cfg, self.init_cfg = self.init_cfg, None
        super().init_weights()  # the decoder's own (Xavier) init
        self.init_cfg = transfer_cfg
        if transfer_cfg:
            initialize(self, transfer_cfg)

    # ------------------------------------------------------------------ features

    def context_and_map(self, x: Features) -> Tuple[Tensor, Tensor]:
        """Project the encoder output and build the dense map and the context tokens.

        Args:
            x (TokenPruningOutput | Tensor | Sequence[Tensor]): a ``TokenPruningOutput`` (spec
                docs/algorithm.md#backbone-outputs; remapped as :func:`remap_tokens` describes), or
                a dense ``(B, Ce, t, h, w)`` map from any backbone, bare or as the only item of a
                tuple/list: then every position is a context token (keyframe slot first) and nothing
                is dropped.

        Returns:
            tuple[Tensor, Tensor]: dense map ``(B, Cd, t, h, w)`` (position table added) and
            context tokens ``(B, Nc, Cd)`` with ``Nc = Nk + K`` (or ``t * h * w`` for a dense
            input).
        """
        if isinstance(x, TokenPruningOutput):
            grid, tokens, kept_index = tuple(x.grid), x.tokens, x.kept_index
        else:
            grid, tokens, kept_index = _as_unpruned(_single_map(x))
        if tokens.shape[-1] != self.in_channels:
            raise ValueError(f'the encoder output has {tokens.shape[-1]} channels but the RoI '
                             f'head was built with in_channels={self.in_channels}')
        return remap_tokens(self.encoder_to_decoder(tokens), kept_index, grid, self.mask_token,
                            self._pos_embed(grid), self.kept_token_order)

    def _pos_embed(self, grid: Tuple[int, int, int]) -> Tensor:
        """The ``(1, t * h * w, Cd)`` sinusoid table interpolated to ``grid``
        (docs/algorithm.md#token-remapping)."""
        if grid[0] != self.pos_embed_grid[0]:
            raise ValueError(
                f'the features have {grid[0]} temporal slots but pos_embed_grid='
                f'{self.pos_embed_grid}; set pos_embed_grid=({grid[0]}, 14, 14) (VideoMAE: '
                f'num_frames / tubelet_size slots)')
        return resize_pos_embed(self.pos_embed, self.pos_embed_grid, grid)

    def forward_actions(self, x: Features, bboxes_list: List[Tensor],
                        batch_img_metas: List[dict]) -> List[List[Tensor]]:
        """Action logits of every decoder layer for the given boxes.

        Args:
            x (TokenPruningOutput | Tensor | Sequence[Tensor]): encoder output, see
                :meth:`context_and_map`.
            bboxes_list (list[Tensor]): per image ``(P_i, 4)`` pixel xyxy boxes (un-extended,
                possibly crossing the image border: they are enlarged first and clipped after,
                docs/algorithm.md#roi-extension); treated as constants (no gradient flows into
                them).
            batch_img_metas (list[dict]): per image metainfo with ``img_shape`` ``(h, w)`` of
                the resized, unpadded clip.

        Returns:
            list[list[Tensor]]: ``logits[layer][image]`` of shape ``(P_i, K)``.
        """
        dense, context = self.context_and_map(x)
        if len(bboxes_list) != context.shape[0]:
            raise ValueError(f'{len(bboxes_list)} proposal lists for a batch of '
                             f'{context.shape[0]} clips')
        extended = [
            extend_bboxes(b.detach().to(dense.dtype), meta['img_shape'], self.roi_extension)
            for b, meta in zip(bboxes_list, batch_img_metas)
        ]
        actors = self.roi_extractor(dense, bbox2roi(extended))
        actors = actors.split([len(b) for b in bboxes_list])

        # images with the same number of boxes share one decoder call; padding would need
        # an attention mask the decoder blocks do not take
        by_count: Dict[int, List[int]] = defaultdict(list)
        for i, boxes in enumerate(bboxes_list):
            by_count[len(boxes)].append(i)
        logits: List[List[Optional[Tensor]]] = [[None] * len(bboxes_list)
                                                 for _ in self.decoder.blocks]
        for images in by_count.values():
            outs = self.decoder(context[images], torch.stack([actors[i] for i in images]))
            for layer, out in enumerate(outs):
                for row, i in enumerate(images):
                    logits[layer][i] = out[row]
        return logits

    def forward(self,
                x: Features,
                rpn_results_list: InstanceList,
                batch_data_samples: SampleList) -> Tuple[Tensor, ...]:
        """Raw action logits, no post-processing (mmdet ``_forward`` / ``mode='tensor'``).

        Args:
            x: encoder output, see :meth:`context_and_map`.
            rpn_results_list (list[InstanceData]): per image ``bboxes`` ``(P_i, 4)`` pixel xyxy.
            batch_data_samples (list[ActionDataSample]): metainfo with ``img_shape``.

        Returns:
            tuple[Tensor]: per decoder layer the ``(sum P_i, K)`` logits, images concatenated.
        """
        logits = self.forward_actions(x, [r.bboxes for r in rpn_results_list],
                                      [s.metainfo for s in batch_data_samples])
        return tuple(torch.cat(per_image) for per_image in logits)

    # ------------------------------------------------------------------ training

    def loss(self, x: Features, rpn_results_list: InstanceList,
             batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """Action losses of every decoder layer (docs/algorithm.md#action-loss).

        Args:
            x: encoder output, see :meth:`context_and_map`.
            rpn_results_list (list[InstanceData]): per image ``bboxes`` ``(P_i, 4)`` pixel xyxy
                and optionally ``assigned_gt_inds`` ``(P_i,)`` long (-1 = unmatched, else index
                into ``gt_instances``), which then decides the targets. Without it the head
                assigns ground truth itself with ``train_cfg.assigner`` (and samples with
                ``train_cfg.sampler``, if given). Not modified.
            batch_data_samples (list[ActionDataSample]): ``gt_instances`` with ``bboxes``
                ``(G, 4)`` pixel xyxy and ``labels`` ``(G, K + 1)`` multi-hot (column 0 unused).

        Returns:
            dict[str, Tensor]: ``d{j}.loss_action`` for every decoder layer ``j``, each the mean
            BCE over matched proposals x classes (``multilabel=False``: the mean cross-entropy
            over matched proposals) times ``action_loss_weight``; with no matched proposal in
            the batch, zero but connected to the graph.
        """
        if len(rpn_results_list) != len(batch_data_samples):
            raise ValueError(f'{len(rpn_results_list)} proposal lists for '
                             f'{len(batch_data_samples)} data samples')
        bboxes_list, matched_list, targets_list = [], [], []
        for proposals, sample in zip(rpn_results_list, batch_data_samples):
            bboxes, assigned = self._assign(proposals, sample.gt_instances)
            labels = self._check_labels(sample.gt_instances.labels)
            matched = assigned >= 0
            bboxes_list.append(bboxes)
            matched_list.append(matched)
            targets_list.append(labels[assigned[matched]][:, 1:].to(bboxes.dtype))
        logits = self.forward_actions(x, bboxes_list,
                                      [s.metainfo for s in batch_data_samples])
        matched = torch.cat(matched_list)
        targets = torch.cat(targets_list)
        losses = {}
        for layer, per_image in enumerate(logits):
            layer_logits = torch.cat(per_image)
            if targets.shape[0]:
                loss = self._action_loss(layer_logits[matched], targets)
            else:
                loss = layer_logits.sum() * 0  # nothing matched: zero, still in the graph
            losses[f'd{layer}.loss_action'] = loss * self.action_loss_weight
        return losses

    def _action_loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        """Mean loss of ``(M, K)`` logits against ``(M, K)`` multi-hot targets."""
        if self.multilabel:
            return F.binary_cross_entropy_with_logits(logits, targets)
        counts = targets.sum(dim=1, keepdim=True)
        if (counts == 0).any():
            raise ValueError('a ground-truth person has no action label; multilabel=False needs '
                             'at least one per person')
        return F.cross_entropy(logits, targets / counts)  # probability targets

    def _assign(self, proposals: InstanceData,
                gt_instances: InstanceData) -> Tuple[Tensor, Tensor]:
        """Boxes to classify and the ground-truth index of each (-1 = no action target)."""
        bboxes = proposals.bboxes.detach()
        if 'assigned_gt_inds' in proposals:
            assigned = proposals.assigned_gt_inds.long()
            if assigned.shape != bboxes.shape[:1]:
                raise ValueError(f'assigned_gt_inds has shape {tuple(assigned.shape)} for '
                                 f'{bboxes.shape[0]} boxes')
            if assigned.numel() and int(assigned.max()) >= len(gt_instances):
                raise ValueError(f'assigned_gt_inds refers to ground truth '
                                 f'{int(assigned.max())} but the sample has '
                                 f'{len(gt_instances)}')
            return bboxes, assigned
        if self.bbox_assigner is None:
            raise ValueError(
                'the proposals carry no assigned_gt_inds and the RoI head has no '
                'train_cfg.assigner; give train_cfg=dict(assigner=dict(type='
                "'MaxIoUAssignerAVA', ...)) or proposals with assigned_gt_inds")
        priors = InstanceData(priors=bboxes)  # a new object: the caller's stays untouched
        assign_result = self.bbox_assigner.assign(priors, gt_instances)
        if self.bbox_sampler is None:
            # gt_inds: 0 = background, -1 = ignored, k > 0 = ground truth k - 1
            return bboxes, (assign_result.gt_inds - 1).clamp(min=-1)
        sampled = self.bbox_sampler.sample(assign_result, priors, gt_instances)
        bboxes = torch.cat((sampled.pos_priors, sampled.neg_priors))
        assigned = torch.cat((sampled.pos_assigned_gt_inds.long(),
                              sampled.pos_assigned_gt_inds.new_full(
                                  (len(sampled.neg_priors),), -1, dtype=torch.long)))
        return bboxes, assigned

    def _check_labels(self, labels: Tensor) -> Tensor:
        if labels.dim() != 2 or labels.shape[1] != self.num_classes + 1:
            raise ValueError(
                f'gt_instances.labels has shape {tuple(labels.shape)}; the RoI head with '
                f'num_classes={self.num_classes} needs (num_gt, {self.num_classes + 1}) '
                f'multi-hot labels with column 0 unused (AVADataset num_classes = RoI head '
                f'num_classes + 1)')
        return labels

    # ------------------------------------------------------------------ inference

    def predict(self,
                x: Features,
                rpn_results_list: InstanceList,
                batch_data_samples: SampleList,
                rescale: bool = False) -> InstanceList:
        """Score every given box with the last decoder layer (docs/algorithm.md#test-output).

        Args:
            x: encoder output, see :meth:`context_and_map`.
            rpn_results_list (list[InstanceData]): per image ``bboxes`` ``(P_i, 4)`` pixel xyxy
                of the resized, unpadded clip. They may cross the image border (the localization
                head's boxes do): each is enlarged, then clipped, before pooling, as the official
                model does (docs/algorithm.md#roi-extension). Not modified.
            batch_data_samples (list[ActionDataSample]): metainfo with ``img_shape``.
            rescale (bool): unused; boxes are always returned in ``[0, 1]`` of the frame, which
                needs no rescaling. Accepted for mmdet's RoI-head contract.

        Returns:
            list[InstanceData]: per image, what ``AVAMetric`` reads:

            - bboxes (Tensor): ``(P_i, 4)`` xyxy in ``[0, 1]``, the un-extended boxes in the
              frame ``AVAMetric`` reads (:func:`bboxes_to_unit`; proposals from files lie inside
              the image already). ``EVAD`` outputs its own boxes, clipped to the last pixel
              (docs/algorithm.md#test-output).
            - scores (Tensor): ``(P_i, K + 1)`` sigmoid scores (softmax probabilities with
              ``multilabel=False``); column 0 is unused (zeros), column ``k`` is class ``k``.
        """
        metas = [s.metainfo for s in batch_data_samples]
        bboxes_list = [r.bboxes for r in rpn_results_list]
        last = self.forward_actions(x, bboxes_list, metas)[-1]
        results = []
        for bboxes, logits, meta in zip(bboxes_list, last, metas):
            probs = logits.detach().sigmoid() if self.multilabel else logits.detach().softmax(-1)
            scores = F.pad(probs, (1, 0))
            results.append(
                InstanceData(bboxes=bboxes_to_unit(bboxes.detach(), meta), scores=scores))
        return results


def _single_map(x: Union[Tensor, Sequence[Tensor]]) -> Tensor:
    """The one ``(B, C, t, h, w)`` map of a dense backbone output."""
    if isinstance(x, (tuple, list)):
        if len(x) != 1:
            raise ValueError(f'the RoI head takes one (B, C, t, h, w) feature map but got '
                             f'{len(x)}; fuse multi-pathway features (e.g. SlowFast) in a neck')
        x = x[0]
    if not isinstance(x, Tensor) or x.dim() != 5:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f'the RoI head takes a TokenPruningOutput or a (B, C, t, h, w) map, '
                         f'got {shape}; mmaction VisionTransformer needs return_feat_map=True')
    return x


def _as_unpruned(feats: Tensor) -> Tuple[Tuple[int, int, int], Tensor, Tensor]:
    """A dense map as backbone tokens with nothing dropped: keyframe slot ``t // 2`` first, then
    the other slots in order, with the identity ``kept_index``. Going through the same remapping
    as pruned tokens keeps the mask token in the graph (with a zero gradient), so DDP does not
    report it unused.

    Returns:
        tuple: grid ``(t, h, w)``, tokens ``(B, t * h * w, C)`` and kept_index
        ``(B, (t - 1) * h * w)``.
    """
    B, _, t, h, w = feats.shape
    tokens = keyframe_first(feats.flatten(2).transpose(1, 2), (t, h, w))  # (B, t * h * w, C)
    kept_index = torch.arange((t - 1) * h * w, device=feats.device).expand(B, -1)
    return (t, h, w), tokens, kept_index
