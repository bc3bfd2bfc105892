"""Sparse R-CNN-style actor localization on the FPN keyframe maps (docs/algorithm.md#localization).

Built from mmdet parts: ``EmbeddingRPNHead`` holds the learned proposals, one ``DIIHead`` per stage
does self-attention, dynamic instance interaction, FFN and the class/box towers,
``SingleRoIExtractor`` pools the RoI features, ``DeltaXYWHBBoxCoder`` decodes the box deltas,
``HungarianAssigner`` with ``ClassificationCost`` / ``BBoxL1Cost`` / ``IoUCost`` matches, and the
stage's own ``CrossEntropyLoss`` / ``L1Loss`` / ``GIoULoss`` compute the losses. What this module
adds is what mmdet's ``SparseRoIHead`` does differently from EVAD: the
docs/official_behaviours.md#d11 normalisation of the person loss, the clamped ``num_boxes``
normaliser, the EVAD box-delta clamp, per-proposal person scores instead of a top-k over classes,
and the Hungarian indices handed on to the action head.
"""
import math
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmdet.models.dense_heads import EmbeddingRPNHead
from mmdet.models.losses import accuracy
from mmdet.registry import MODELS as MMDET_MODELS
from mmdet.registry import TASK_UTILS as MMDET_TASK_UTILS
from mmdet.structures.bbox import bbox2roi
from mmdet.utils import reduce_mean
from mmengine.logging import MMLogger
from mmengine.model import BaseModule, ModuleList
from mmengine.structures import InstanceData
from torch import Tensor

from mmaction.registry import MODELS
from mmaction.utils import ConfigType, InstanceList, OptConfigType, OptMultiConfig, SampleList
from ..utils.mmdet_build import build_in_mmdet_scope
from .query_training_extras import PERSON, BoxDenoising, one_to_many_assign

__all__ = ['QueryLocalizationHead']

# docs/algorithm.md#refinement-stage: dw, dh are clamped at log(100000 / 16) ≈ 8.74 (detectron2's
# scale clamp). mmdet's decoder clamps |dw|, |dh| at |log(wh_ratio_clip)|, 4.14 by default; this
# ratio gives EVAD's upper bound. mmdet also clamps from below at -8.74 where EVAD does not:
# that only bites when one stage shrinks a box more than 6000-fold, i.e. never for a usable
# prediction.
_WH_RATIO_CLIP = 16 / 100000

# PERSON = 0: class index of "person"; index 1 (mmdet's background index num_classes) = no-object


@MODELS.register_module()
class QueryLocalizationHead(BaseModule):
    """Learned-proposal person localization with ``num_stages`` dynamic-interaction stages.

    Every stage takes the boxes and proposal features of the previous one (stage 0: the learned
    proposals, the whole image at init), pools 7×7 RoI features from the FPN level chosen by box
    size, refines the proposal features with a ``DIIHead`` and predicts 2-way person / no-object
    logits and R-CNN box deltas on its input boxes. The next stage receives the boxes detached
    and the features attached (docs/algorithm.md#refinement-stage). In training each stage is
    matched to the ground truth independently (Hungarian) and gets the same three losses (deep
    supervision, docs/algorithm.md#localization-losses).

    Args:
        bbox_roi_extractor (dict): config of the RoI extractor shared by all stages (it has no
            parameters), e.g. mmdet ``SingleRoIExtractor`` with ``RoIAlign(7, sampling_ratio=2,
            aligned=True)``, ``featmap_strides=[4, 8, 16, 32]``, ``finest_scale=56``. Built in
            mmdet's scope unless it names another ``_scope_`` (as every mmdet part here).
        bbox_head (dict | list[dict]): config of a stage, an mmdet ``DIIHead`` with
            ``num_classes=1`` and a softmax ``CrossEntropyLoss`` (``use_sigmoid=False``, class
            weights ``[person, no-object]``); ``loss_bbox`` and ``loss_iou`` are the L1 and GIoU
            losses. One dict is used for every stage; a list gives one per stage.
        train_cfg (dict, optional): ``dict(assigner=...)``, the Hungarian assigner of every stage
            (mmdet ``HungarianAssigner``). Needed for :meth:`loss_and_predict`. Defaults to None.
        num_proposals (int): number of learned proposals ``P``. Defaults to 100.
        proposal_feature_channel (int): width of the proposal features; equals the FPN's
            ``out_channels`` and the stages' ``in_channels``. Defaults to 256.
        num_stages (int): number of refinement stages. Defaults to 6.
        stage_loss_weights (Sequence[float], optional): factor on every loss of a stage.
            Defaults to None: 1 for every stage (docs/algorithm.md#localization-losses).
        matches_per_gt (int): proposals matched to each person in training
            (:func:`~.query_training_extras.one_to_many_assign`). 1 (default) is EVAD's
            one-to-one Hungarian matching. ``k > 1`` matches each person to ``k``
            proposals (the Hungarian assignment against the persons repeated ``k`` times, as
            the one-to-many branch of H-DETR), which gives the box losses and the action head
            ``k`` times the positives per clip; the box losses are then divided by ``k`` times
            the number of persons. Not in EVAD: it teaches several proposals per person, so use
            it with the detector's test-time person NMS. Defaults to 1.
        denoising_groups (int): copies of every person box that are jittered (centre by up to
            ``denoising_noise`` x half the box size, width and height by up to
            ``denoising_noise`` x the size, uniformly) and refined by the stages in training as
            extra queries that are not matched: each is trained to recover its own person (the
            box denoising of DN-DETR, Li et al. 2022). They start from a learned feature of their
            own and do not attend to the learned proposals or to each other, so inference is
            unchanged (:class:`~.query_training_extras.BoxDenoising`). Not in EVAD; 0 (default)
            adds nothing, not even the parameter.
        denoising_noise (float): the jitter scale above, in (0, 1). Defaults to 0.4.
        init_cfg (dict | list[dict], optional): initialization config. Defaults to None.
    """

    def __init__(self,
                 bbox_roi_extractor: ConfigType,
                 bbox_head: Union[ConfigType, List[ConfigType]],
                 train_cfg: OptConfigType = None,
                 num_proposals: int = 100,
                 proposal_feature_channel: int = 256,
                 num_stages: int = 6,
                 stage_loss_weights: Optional[Sequence[float]] = None,
                 matches_per_gt: int = 1,
                 denoising_groups: int = 0,
                 denoising_noise: float = 0.4,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_stages < 1:
            raise ValueError(f'num_stages must be at least 1, got {num_stages}')
        if not isinstance(matches_per_gt, int) or not 1 <= matches_per_gt <= num_proposals:
            raise ValueError(f'matches_per_gt must be an int from 1 to num_proposals='
                             f'{num_proposals}, got {matches_per_gt!r}')
        if not isinstance(denoising_groups, int) or denoising_groups < 0:
            raise ValueError(f'denoising_groups must be an int >= 0 (0 = off), got '
                             f'{denoising_groups!r}')
        if not 0 < denoising_noise < 1:
            raise ValueError(f'denoising_noise must be in (0, 1) (a fraction of the box size), '
                             f'got {denoising_noise!r}')
        if stage_loss_weights is None:
            stage_loss_weights = [1.0] * num_stages
        if len(stage_loss_weights) != num_stages:
            raise ValueError(f'stage_loss_weights has {len(stage_loss_weights)} entries but '
                             f'num_stages is {num_stages}; give one weight per stage')
        if isinstance(bbox_head, (list, tuple)):
            if len(bbox_head) != num_stages:
                raise ValueError(f'bbox_head is a list of {len(bbox_head)} configs but '
                                 f'num_stages is {num_stages}; give one config per stage or a '
                                 'single dict for all stages')
            head_cfgs = list(bbox_head)
        else:
            head_cfgs = [bbox_head] * num_stages

        self.num_proposals = num_proposals
        self.proposal_feature_channel = proposal_feature_channel
        self.num_stages = num_stages
        self.stage_loss_weights = list(stage_loss_weights)
        self.matches_per_gt = matches_per_gt
        self.denoising_groups = denoising_groups
        self.denoising_noise = denoising_noise
        self.train_cfg = train_cfg

        # Learned proposal boxes (normalised cxcywh) and features, shared by all images.
        self.proposal_generator = EmbeddingRPNHead(
            num_proposals=num_proposals, proposal_feature_channel=proposal_feature_channel)
        self.bbox_roi_extractor = build_in_mmdet_scope(MMDET_MODELS, bbox_roi_extractor)
        self.bbox_head = ModuleList([build_in_mmdet_scope(MMDET_MODELS, cfg) for cfg in head_cfgs])
        # training extras not in EVAD (query_training_extras.py); off: not even a parameter
        self.denoising = (BoxDenoising(denoising_groups, denoising_noise, proposal_feature_channel)
                          if denoising_groups else None)
        self.assigner = None
        if train_cfg is not None:
            if 'assigner' not in train_cfg:
                raise KeyError('train_cfg of QueryLocalizationHead needs an "assigner" '
                               '(e.g. mmdet HungarianAssigner)')
            self.assigner = build_in_mmdet_scope(MMDET_TASK_UTILS, train_cfg['assigner'])
        self._check_stages()

    def _check_stages(self) -> None:
        if self.bbox_roi_extractor.out_channels != self.proposal_feature_channel:
            raise ValueError(
                f'bbox_roi_extractor.out_channels={self.bbox_roi_extractor.out_channels} but '
                f'proposal_feature_channel={self.proposal_feature_channel}; they must be equal')
        for stage, head in enumerate(self.bbox_head):
            if head.num_classes != 1:
                raise ValueError(f'bbox_head of stage {stage} has num_classes='
                                 f'{head.num_classes}; the person head needs num_classes=1')
            if getattr(head.loss_cls, 'use_sigmoid', True):
                raise ValueError(
                    f'bbox_head.loss_cls of stage {stage} is {type(head.loss_cls).__name__} with '
                    'sigmoid outputs; EVAD classifies person vs no-object with a 2-way softmax '
                    '(docs/official_behaviours.md#d11): use '
                    'CrossEntropyLoss(use_sigmoid=False, class_weight=[1.0, 0.1])')
            if head.in_channels != self.proposal_feature_channel:
                raise ValueError(f'bbox_head of stage {stage} has in_channels='
                                 f'{head.in_channels} but proposal_feature_channel='
                                 f'{self.proposal_feature_channel}; they must be equal')

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        # checkpoints saved before the denoising queries moved into BoxDenoising
        old = prefix + 'denoising_feature.weight'
        if old in state_dict:
            state_dict[prefix + 'denoising.feature'] = state_dict.pop(old)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    @property
    def num_loss_terms(self) -> int:
        """EVAD's localization loss terms: ``loss_cls``, ``loss_bbox`` and ``loss_giou`` per
        stage. The optional denoising terms are not counted (the divisor of ``EVAD``'s
        ``loss_reduction='mean'``, docs/official_behaviours.md#d10)."""
        return 3 * self.num_stages

    def init_weights(self) -> None:
        """Initialise as docs/algorithm.md#initialization.

        Children first: ``EmbeddingRPNHead`` sets the proposal boxes to the whole image
        ``(0.5, 0.5, 1, 1)`` (cxcywh); ``DIIHead`` draws every ≥2-D stage parameter Xavier-uniform.
        Then the proposal features are drawn N(0, 1) (``nn.Embedding``'s init, which
        ``EmbeddingRPNHead`` leaves to the constructor), and the biases of the final class and box
        layers get PyTorch's default ``Linear`` init back (``BBoxHead``'s ``Normal`` init_cfg
        zeroes them; EVAD keeps the default).
        """
        super().init_weights()
        nn.init.normal_(self.proposal_generator.init_proposal_features.weight)
        if self.denoising is not None:
            nn.init.normal_(self.denoising.feature)
        for head in self.bbox_head:
            for layer in (head.fc_cls, head.fc_reg):
                bound = 1 / math.sqrt(layer.in_features)
                nn.init.uniform_(layer.bias, -bound, bound)

    # ------------------------------------------------------------------------------------------
    # forward
    # ------------------------------------------------------------------------------------------
    def forward(self, feats: Sequence[Tensor],
                data_samples: SampleList) -> Tuple[List[Tensor], List[Tensor]]:
        """Run all stages; no matching, no post-processing.

        Args:
            feats (Sequence[Tensor]): FPN maps p2..p5, each ``(B, C, H/s, W/s)`` with
                ``C = proposal_feature_channel`` and strides ``s`` = 4, 8, 16, 32.
            data_samples (list[ActionDataSample]): ``B`` samples; ``metainfo['img_shape']`` is the
                unpadded resized ``(h, w)`` of each clip.

        Returns:
            tuple[list[Tensor], list[Tensor]]: per stage, the class logits ``(B, P, 2)`` (index 0
            person, 1 no-object) and the decoded boxes ``(B, P, 4)``, pixel xyxy of the resized
            unpadded clip, not clipped, attached to the graph.
        """
        self._check_inputs(feats, data_samples)
        # mmcv's CPU RoIAlign returns wrong values on non-contiguous maps
        feats = tuple(f.contiguous() for f in feats)
        proposals = self.proposal_generator.predict(feats, data_samples)
        bboxes = torch.stack([p.bboxes for p in proposals])  # (B, P, 4), grad to init boxes
        object_feats = torch.stack([p.features for p in proposals])  # (B, P, C)
        num_imgs = bboxes.size(0)

        stage_cls_scores, stage_bboxes = [], []
        for head in self.bbox_head:
            rois = bbox2roi(list(bboxes))  # (B * P, 5), image-major like object_feats
            cls_score, new_bboxes, object_feats = self._refine(head, feats, rois, object_feats)
            new_bboxes = new_bboxes.view(num_imgs, -1, 4)
            stage_cls_scores.append(cls_score)
            stage_bboxes.append(new_bboxes)
            bboxes = new_bboxes.detach()  # the next stage refines, gradient stops here
        return stage_cls_scores, stage_bboxes

    def _refine(self, head: nn.Module, feats: Sequence[Tensor], rois: Tensor,
                object_feats: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """One stage on ``R = N * P`` boxes: RoI features, ``DIIHead``, box decoding.

        Args:
            head (nn.Module): the stage's ``DIIHead``.
            feats (Sequence[Tensor]): contiguous FPN maps p2..p5.
            rois (Tensor): ``(R, 5)`` ``[image index, x1, y1, x2, y2]``, ordered like
                ``object_feats``.
            object_feats (Tensor): ``(N, P, C)`` proposal features; attention runs over ``P``.

        Returns:
            tuple[Tensor]: class logits ``(N, P, 2)``, refined boxes ``(R, 4)`` pixel xyxy on
            the graph, and the updated proposal features ``(N, P, C)``.
        """
        roi_feats = self.bbox_roi_extractor(
            feats[:self.bbox_roi_extractor.num_inputs], rois)  # (R, C, 7, 7)
        cls_score, bbox_delta, object_feats, _ = head(roi_feats, object_feats)
        new_bboxes = head.bbox_coder.decode(rois[:, 1:], bbox_delta.reshape(-1, 4),
                                            wh_ratio_clip=_WH_RATIO_CLIP)
        return cls_score, new_bboxes, object_feats

    def _check_inputs(self, feats: Sequence[Tensor], data_samples: SampleList) -> None:
        num_levels = self.bbox_roi_extractor.num_inputs
        if not isinstance(feats, (tuple, list)) or len(feats) < num_levels:
            raise ValueError(f'QueryLocalizationHead needs a tuple of at least {num_levels} FPN '
                             f'maps (one per featmap stride), got {type(feats).__name__} '
                             f'of length {len(feats) if isinstance(feats, (tuple, list)) else 1}')
        if feats[0].size(0) != len(data_samples):
            raise ValueError(f'the FPN maps hold {feats[0].size(0)} images but '
                             f'{len(data_samples)} data samples were given')
        for level, feat in enumerate(feats[:num_levels]):
            if feat.size(1) != self.proposal_feature_channel:
                raise ValueError(f'FPN map {level} has {feat.size(1)} channels but the head '
                                 f'expects proposal_feature_channel='
                                 f'{self.proposal_feature_channel}; set the neck out_channels')

    # ------------------------------------------------------------------------------------------
    # train
    # ------------------------------------------------------------------------------------------
    def loss(self, feats: Sequence[Tensor], data_samples: SampleList) -> dict:
        """The losses of :meth:`loss_and_predict`, without the results."""
        return self.loss_and_predict(feats, data_samples)[0]

    def loss_and_predict(self, feats: Sequence[Tensor],
                         data_samples: SampleList) -> Tuple[dict, InstanceList]:
        """Match every stage to the person boxes, compute the losses, return last-stage boxes.

        Args:
            feats (Sequence[Tensor]): FPN maps p2..p5, see :meth:`forward`.
            data_samples (list[ActionDataSample]): with ``metainfo['img_shape']`` and
                ``gt_instances.bboxes`` ``(N, 4)`` pixel xyxy of the resized unpadded clip. The
                action labels are not read: every box is a person (class 0). Boxes with zero
                width or height are ignored.

        Returns:
            tuple[dict, list[InstanceData]]:

            - losses: for every stage ``i``, ``s{i}.loss_cls`` (person / no-object
              cross-entropy, weighted mean over all ``B * P`` proposals,
              docs/official_behaviours.md#d11), ``s{i}.loss_bbox`` (L1 on ``img_shape``-normalised
              xyxy) and ``s{i}.loss_giou`` (``1 - GIoU``), both summed over matched proposals and
              divided by ``num_boxes`` (ground-truth boxes in the global batch, averaged over ranks,
              at least 1), each times its loss weight and the stage weight; ``s{i}.pos_acc``
              (metric, not a loss).
            - results: per image an ``InstanceData`` with ``bboxes`` ``(P, 4)`` last-stage pixel
              xyxy (detached, not clipped), ``scores`` ``(P,)`` person probability and
              ``assigned_gt_inds`` ``(P,)`` long: the index into ``gt_instances`` of the ground
              truth matched to each proposal in the last stage, -1 if none.
        """
        if self.assigner is None:
            raise ValueError('QueryLocalizationHead was built without train_cfg; give '
                             'train_cfg=dict(assigner=...) to compute losses')
        batch_gt_instances, kept_gt_inds = self._person_targets(data_samples, feats[0])
        batch_img_metas = [dict(img_shape=tuple(ds.metainfo['img_shape'][:2]))
                           for ds in data_samples]
        stage_cls_scores, stage_bboxes = self(feats, data_samples)

        # docs/algorithm.md#localization-losses: total GT of the global batch / world size, at least
        # 1, same for all stages
        num_gts = sum(len(gt) for gt in batch_gt_instances)
        num_boxes = reduce_mean(feats[0].new_tensor(float(num_gts))).clamp(min=1.0)
        num_boxes = num_boxes * self.matches_per_gt

        losses = dict()
        for stage in range(self.num_stages):
            gt_inds = self._assign(stage_cls_scores[stage], stage_bboxes[stage],
                                   batch_gt_instances, batch_img_metas)
            stage_losses = self._stage_loss(stage, stage_cls_scores[stage], stage_bboxes[stage],
                                            gt_inds, batch_gt_instances, batch_img_metas,
                                            num_boxes)
            weight = self.stage_loss_weights[stage]
            for name, value in stage_losses.items():
                losses[f's{stage}.{name}'] = value * weight if 'loss' in name else value

        if self.denoising is not None:
            losses.update(self.denoising.loss(self._refine, self.bbox_head,
                                              self.stage_loss_weights, feats,
                                              batch_gt_instances, batch_img_metas))

        results = self._results(stage_cls_scores[-1], stage_bboxes[-1])
        for result, inds, kept in zip(results, gt_inds, kept_gt_inds):
            # back from the filtered GT list to the caller's gt_instances indices
            assigned = torch.full_like(inds, -1)
            matched = inds >= 0
            assigned[matched] = kept[inds[matched]]
            result.assigned_gt_inds = assigned
        return losses, results

    def _person_targets(self, data_samples: SampleList,
                        ref: Tensor) -> Tuple[InstanceList, List[Tensor]]:
        """Person boxes with positive width and height, class 0, and their original indices."""
        batch_gt_instances, kept_gt_inds = [], []
        for i, data_sample in enumerate(data_samples):
            if 'gt_instances' not in data_sample or 'bboxes' not in data_sample.gt_instances:
                raise ValueError(f'data sample {i} has no gt_instances.bboxes; '
                                 'loss_and_predict needs the ground-truth person boxes')
            bboxes = torch.as_tensor(data_sample.gt_instances.bboxes).to(
                device=ref.device, dtype=ref.dtype).reshape(-1, 4)
            # zero-area boxes (e.g. persons cropped away) would make GIoU degenerate
            keep = (bboxes[:, 2] > bboxes[:, 0]) & (bboxes[:, 3] > bboxes[:, 1])
            kept = keep.nonzero(as_tuple=False).squeeze(1)
            if kept.numel() < len(bboxes) and not getattr(self, '_warned_empty_gt', False):
                # said once: EVADAVADataset reports such boxes per file and row; here they
                # come from another dataset class or a transform (e.g. a crop)
                self._warned_empty_gt = True
                meta = data_sample.metainfo
                MMLogger.get_current_instance().warning(
                    f'QueryLocalizationHead ignores {len(bboxes) - kept.numel()} ground-truth '
                    f'boxes with zero or negative width or height in sample '
                    f"{meta.get('video_id', i)},{meta.get('timestamp', '?')} (and any later "
                    f'ones, without repeating this); check the data with '
                    f'tools/analysis_tools/check_dataset.py')
            # person labels built from the boxes: the multi-hot action labels never reach mmdet
            batch_gt_instances.append(InstanceData(
                bboxes=bboxes[kept], labels=kept.new_zeros(kept.numel())))
            kept_gt_inds.append(kept)
        return batch_gt_instances, kept_gt_inds

    def _assign(self, cls_score: Tensor, bboxes: Tensor, batch_gt_instances: InstanceList,
                batch_img_metas: List[dict]) -> List[Tensor]:
        """Hungarian matching per image on detached predictions (one-to-one as EVAD; with
        ``matches_per_gt`` > 1 against that many copies of every person).

        Returns:
            list[Tensor]: per image ``(P,)`` long, index into the filtered GT, -1 = unmatched.
        """
        gt_inds = []
        for i, (gt_instances, img_meta) in enumerate(zip(batch_gt_instances, batch_img_metas)):
            pred_instances = InstanceData(scores=cls_score[i].detach(),
                                          bboxes=bboxes[i].detach())
            gt_inds.append(one_to_many_assign(self.assigner, pred_instances, gt_instances,
                                              img_meta, copies=self.matches_per_gt))
        return gt_inds

    def _stage_loss(self, stage: int, cls_score: Tensor, bboxes: Tensor, gt_inds: List[Tensor],
                    batch_gt_instances: InstanceList, batch_img_metas: List[dict],
                    num_boxes: Tensor) -> dict:
        """The three weighted losses of one stage (loss weights applied by the loss modules)."""
        head = self.bbox_head[stage]
        gt_inds = torch.stack(gt_inds)  # (B, P)
        pos = gt_inds >= 0
        labels = torch.full_like(gt_inds, head.num_classes)  # no-object
        labels[pos] = PERSON
        flat_scores, flat_labels = cls_score.reshape(-1, cls_score.size(-1)), labels.reshape(-1)

        # docs/official_behaviours.md#d11: Σ wᵢ·CEᵢ / Σ wᵢ over all B·P proposals (torch's weighted
        # mean); mmdet's DIIHead divides by the number of positives instead.
        class_weight = head.loss_cls.class_weight
        class_weight = (flat_scores.new_tensor(class_weight) if class_weight is not None else
                        flat_scores.new_ones(flat_scores.size(-1)))
        losses = dict(loss_cls=head.loss_cls(
            flat_scores, flat_labels, avg_factor=class_weight[flat_labels].sum()))
        losses['pos_acc'] = accuracy(  # (1,) from mmdet -> scalar like the losses
            flat_scores[pos.reshape(-1)], flat_labels[pos.reshape(-1)]).squeeze(0)

        if pos.any():
            pos_bboxes = bboxes[pos]  # (n, 4), image-major like the targets below
            pos_targets = torch.cat([gt.bboxes[inds[inds >= 0]]
                                     for gt, inds in zip(batch_gt_instances, gt_inds)])
            whwh = torch.cat([
                bboxes.new_tensor([[meta['img_shape'][1], meta['img_shape'][0]] * 2]).expand(
                    int(p.sum()), 4) for meta, p in zip(batch_img_metas, pos)
            ])
            losses['loss_bbox'] = head.loss_bbox(
                pos_bboxes / whwh, pos_targets / whwh, avg_factor=num_boxes)
            losses['loss_giou'] = head.loss_iou(pos_bboxes, pos_targets, avg_factor=num_boxes)
        else:
            # nothing matched in this batch: zero, but on the graph (unused parameters in DDP)
            losses['loss_bbox'] = bboxes.sum() * 0
            losses['loss_giou'] = bboxes.sum() * 0
        return losses

    # ------------------------------------------------------------------------------------------
    # test
    # ------------------------------------------------------------------------------------------
    def predict(self, feats: Sequence[Tensor], data_samples: SampleList) -> InstanceList:
        """All ``P`` last-stage proposals of every image.

        The boxes are the refined boxes as predicted, the same kind as in training: they are not
        clipped to the image and may cross its border. Whoever forms an output clips them: the
        RoI extension clips the enlarged boxes it pools from and ``EVAD`` clips the boxes it
        outputs (docs/algorithm.md#roi-extension, docs/algorithm.md#test-output). The
        person-score threshold and its fallback (docs/algorithm.md#person-selection,
        docs/official_behaviours.md#d9) belong to the detector too.

        Args:
            feats (Sequence[Tensor]): FPN maps p2..p5, see :meth:`forward`.
            data_samples (list[ActionDataSample]): with ``metainfo['img_shape']``.

        Returns:
            list[InstanceData]: per image ``bboxes`` ``(P, 4)`` pixel xyxy of the resized
            unpadded clip (detached, not clipped) and ``scores`` ``(P,)`` person probability.
        """
        stage_cls_scores, stage_bboxes = self(feats, data_samples)
        return self._results(stage_cls_scores[-1], stage_bboxes[-1])

    @staticmethod
    def _results(cls_score: Tensor, bboxes: Tensor) -> InstanceList:
        scores = cls_score.detach().softmax(-1)[..., PERSON]  # (B, P)
        return [InstanceData(bboxes=b, scores=s) for b, s in zip(bboxes.detach(), scores)]
