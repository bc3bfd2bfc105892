"""Two training extras of :class:`QueryLocalizationHead` that EVAD does not have, kept apart from
the head (as mmdet's DINO keeps its ``CdnQueryGenerator`` apart from the DINO head) so that the
head reads like EVAD's localization (docs/algorithm.md#localization). Both are off by default and
change nothing at test time.

- :func:`one_to_many_assign`: each person matched to ``k`` proposals (``matches_per_gt``), the
  one-to-many branch of H-DETR (Jia et al. 2023).
- :class:`BoxDenoising`: jittered copies of the person boxes refined by the stages as extra
  queries, each trained to recover its own person (``denoising_groups``), the box denoising of
  DN-DETR (Li et al. 2022).
"""
from typing import Callable, List, Sequence, Tuple

import torch
from mmengine.model import BaseModule
from mmengine.structures import InstanceData
from torch import Tensor, nn

from mmaction.utils import InstanceList

__all__ = ['BoxDenoising', 'one_to_many_assign']

PERSON = 0  # class index of "person"; index 1 = no-object


def one_to_many_assign(assigner, pred_instances: InstanceData, gt_instances: InstanceData,
                       img_meta: dict, copies: int = 1) -> Tensor:
    """Hungarian matching of one image against every person repeated ``copies`` times.

    Args:
        assigner: an mmdet assigner (``HungarianAssigner``).
        pred_instances (InstanceData): ``scores`` ``(P, 2)`` and ``bboxes`` ``(P, 4)``, detached.
        gt_instances (InstanceData): ``bboxes`` ``(G, 4)`` and ``labels`` ``(G,)``.
        img_meta (dict): with ``img_shape``.
        copies (int): proposals matched to each person; 1 is EVAD's one-to-one matching.

    Returns:
        Tensor: ``(P,)`` long, index into ``gt_instances`` (every copy points back to its
        person), -1 = unmatched.
    """
    targets = gt_instances if copies == 1 else InstanceData(
        bboxes=gt_instances.bboxes.repeat(copies, 1),
        labels=gt_instances.labels.repeat(copies))
    assign_result = assigner.assign(pred_instances, targets, img_meta=img_meta)
    inds = assign_result.gt_inds - 1  # mmdet: 0 = background, k = GT k-1
    if copies > 1 and len(gt_instances):
        inds = torch.where(inds >= 0, inds % len(gt_instances), inds)
    return inds


class BoxDenoising(BaseModule):
    """Box-denoising queries and their losses.

    ``groups`` copies of every person box are jittered (centre by up to ``noise`` x half the box
    size, width and height by up to ``noise`` x the size, uniformly) and refined by the
    localization stages as extra queries that are not matched: each is trained to recover its own
    person. They start from a learned feature of their own and do not attend to the learned
    proposals or to each other (each is a one-proposal set), so inference is unchanged.

    Args:
        groups (int): jittered copies of every person box, at least 1.
        noise (float): the jitter scale, in (0, 1).
        feature_channels (int): width of the learned query feature (the proposal features').
    """

    def __init__(self, groups: int, noise: float, feature_channels: int) -> None:
        super().__init__()
        if not isinstance(groups, int) or groups < 1:
            raise ValueError(f'denoising_groups must be an int >= 1 here, got {groups!r}')
        if not 0 < noise < 1:
            raise ValueError(f'denoising_noise must be in (0, 1) (a fraction of the box size), '
                             f'got {noise!r}')
        self.groups = groups
        self.noise = noise
        # (1, C), drawn N(0, 1) as nn.Embedding would (the owner re-draws it in init_weights)
        self.feature = nn.Parameter(torch.empty(1, feature_channels))
        nn.init.normal_(self.feature)

    def jitter(self, bboxes: Tensor, img_wh: Tensor) -> Tensor:
        """Shift the centres by up to ``noise * size / 2`` and scale the sizes by
        ``1 ± noise`` (uniform), then clip to the image.

        Args:
            bboxes (Tensor): ``(N, 4)`` pixel xyxy.
            img_wh (Tensor): ``(N, 2)`` width and height of each box's image.

        Returns:
            Tensor: ``(N, 4)`` pixel xyxy in ``[0, w - 1] x [0, h - 1]``.
        """
        size = bboxes[:, 2:] - bboxes[:, :2]
        centre = (bboxes[:, :2] + bboxes[:, 2:]) / 2
        centre = centre + (torch.rand_like(centre) * 2 - 1) * self.noise * size / 2
        size = size * (1 + (torch.rand_like(size) * 2 - 1) * self.noise)
        jittered = torch.cat([centre - size / 2, centre + size / 2], dim=1)
        upper = (img_wh - 1).repeat(1, 2)
        return torch.minimum(jittered.clamp(min=0), upper)

    def loss(self, refine: Callable, stage_heads: Sequence[nn.Module],
             stage_loss_weights: Sequence[float], feats: Sequence[Tensor],
             batch_gt_instances: InstanceList, batch_img_metas: List[dict]) -> dict:
        """Refine the jittered boxes with every stage and score them against their own person.

        Args:
            refine (callable): one stage, ``refine(head, feats, rois, object_feats)`` ->
                ``(cls_score (N, Q, 2), bboxes (N * Q, 4), object_feats (N, Q, C))``
                (``QueryLocalizationHead._refine``).
            stage_heads (Sequence[nn.Module]): the stages' ``DIIHead`` (their loss modules are
                used).
            stage_loss_weights (Sequence[float]): factor on every loss of a stage.
            feats (Sequence[Tensor]): FPN maps p2..p5.
            batch_gt_instances (list[InstanceData]): per image the person ``bboxes``.
            batch_img_metas (list[dict]): per image ``img_shape``.

        Returns:
            dict: per stage ``s{i}.dn_loss_cls`` (person CE, mean over the ``N = groups x
            persons`` queries), ``s{i}.dn_loss_bbox`` and ``s{i}.dn_loss_giou`` against the
            query's own person, divided by ``N`` (this rank's queries); each times its loss
            weight and the stage weight. Zeros on the graph when the batch has no person.
        """
        targets = torch.cat([gt.bboxes.repeat(self.groups, 1)
                             for gt in batch_gt_instances])  # (N, 4) image-major
        if not len(targets):  # no person in the batch: zeros, still on the graph
            zero = self.feature.sum() * 0
            return {f's{stage}.dn_{name}': zero for stage in range(len(stage_heads))
                    for name in ('loss_cls', 'loss_bbox', 'loss_giou')}
        img_inds, bboxes, whwh = self._queries(targets, batch_gt_instances, batch_img_metas)
        num = len(targets)
        labels = torch.full((num, ), PERSON, dtype=torch.long, device=targets.device)
        object_feats = self.feature.expand(num, 1, -1)  # (N, 1, C): N one-query sets
        feats = tuple(f.contiguous() for f in feats)  # mmcv's CPU RoIAlign needs contiguous maps
        losses = dict()
        for stage, (head, weight) in enumerate(zip(stage_heads, stage_loss_weights)):
            rois = torch.cat([img_inds[:, None], bboxes], dim=1)
            cls_score, new_bboxes, object_feats = refine(head, feats, rois, object_feats)
            losses[f's{stage}.dn_loss_cls'] = weight * head.loss_cls(
                cls_score.reshape(-1, cls_score.size(-1)), labels, avg_factor=num)
            losses[f's{stage}.dn_loss_bbox'] = weight * head.loss_bbox(
                new_bboxes / whwh, targets / whwh, avg_factor=num)
            losses[f's{stage}.dn_loss_giou'] = weight * head.loss_iou(
                new_bboxes, targets, avg_factor=num)
            bboxes = new_bboxes.detach()
        return losses

    def _queries(self, targets: Tensor, batch_gt_instances: InstanceList,
                 batch_img_metas: List[dict]) -> Tuple[Tensor, Tensor, Tensor]:
        """Image index ``(N,)`` (float, for RoIs), jittered boxes ``(N, 4)`` and the
        ``(N, 4)`` image ``(w, h, w, h)`` of every query."""
        img_inds = torch.cat([
            targets.new_full((len(gt) * self.groups, ), i)
            for i, gt in enumerate(batch_gt_instances)
        ])
        img_wh = targets.new_tensor([[m['img_shape'][1], m['img_shape'][0]]
                                     for m in batch_img_metas])[img_inds.long()]  # (N, 2)
        return img_inds, self.jitter(targets, img_wh), img_wh.repeat(1, 2)
