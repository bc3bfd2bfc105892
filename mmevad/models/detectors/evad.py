from typing import Dict, Optional, Tuple

import torch
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmaction.utils import ConfigType, OptConfigType, SampleList
from mmcv.ops import nms
from mmdet.models.detectors import BaseDetector
from mmengine.structures import InstanceData
from torch import Tensor

from mmevad.structures import TokenPruningOutput, clip_bboxes
from ..roi_heads import bboxes_to_unit


@MODELS.register_module()
class EVAD(BaseDetector):
    """EVAD: a single-stage video action detector (Chen et al., ICCV 2023).

    ``backbone`` (``TokenPruningViT``) encodes the clip and prunes non-keyframe tokens; ``neck``
    (mmdet ``FPN``) fuses its four keyframe maps; ``localization_head``
    (``QueryLocalizationHead``) finds the actors; ``roi_head`` (``ContextRefinementRoIHead``)
    classifies their actions against the kept context tokens. This class only wires them.

    Args:
        backbone (dict): the backbone; must return a :class:`TokenPruningOutput`.
        neck (dict): the FPN on the keyframe maps.
        localization_head (dict): person localization, ``loss_and_predict`` / ``predict``.
        roi_head (dict): action classification, mmdet RoI-head contract.
        person_score_thr (float): at test time keep the proposals whose person probability is at
            least this; an image where none passes keeps all of them
            (docs/algorithm.md#person-selection, docs/official_behaviours.md#d9). Defaults to 0.7.
        person_nms_iou_thr (float, optional): if set, non-maximum suppression (on the person
            scores) at this IoU removes duplicate persons among the selected proposals. The
            released models have none (docs/official_behaviours.md#d9): their set-prediction head
            has learnt to give each person one proposal. A small model trained briefly has not, and
            its duplicates are false positives for every action (the synthetic quickstart sets 0.5).
            Defaults to None.
        action_scores_times_person (bool): if True, each kept proposal's action probabilities
            are multiplied by its person probability at test time, so that the ranking of a
            class's detections also counts how sure the localization is. The released models
            do not (docs/official_behaviours.md#d9). A small model trained briefly, with several
            proposals matched to each person (``QueryLocalizationHead(matches_per_gt=k)``), ranks
            better with it. Defaults to False.
        loss_reduction (str): ``'mean'`` divides every loss term by ``loss_divisor``, as the
            official trainer minimises the mean of its weighted terms (docs/algorithm.md#total-loss,
            docs/official_behaviours.md#d10; 24 terms for ViT-B); ``'sum'`` leaves them, as mmengine
            sums them. Defaults to ``'mean'``.
        loss_divisor (float, optional): the divisor of ``loss_reduction='mean'``. Defaults to
            None: the number of EVAD loss terms, which the heads declare from their architecture
            (``num_loss_terms``: 3 per localization stage, 1 per decoder layer). Optional extra
            terms (e.g. ``QueryLocalizationHead``'s denoising losses) are divided by the same
            number but do not change it, so switching them on leaves every EVAD term unchanged.
        data_preprocessor (dict, optional): e.g. ``EVADDataPreprocessor``.
        train_cfg, test_cfg (dict, optional): accepted for config compatibility; the heads carry
            their own.
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained', checkpoint=...)`` with
            ``backbone.``-prefixed VideoMAE weights.
    """

    def __init__(self,
                 backbone: ConfigType,
                 neck: ConfigType,
                 localization_head: ConfigType,
                 roi_head: ConfigType,
                 person_score_thr: float = 0.7,
                 person_nms_iou_thr: Optional[float] = None,
                 action_scores_times_person: bool = False,
                 loss_reduction: str = 'mean',
                 loss_divisor: Optional[float] = None,
                 data_preprocessor: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if loss_reduction not in ('mean', 'sum'):
            raise ValueError(f"loss_reduction must be 'mean' (official, "
                             f"docs/official_behaviours.md#d10) or 'sum', "
                             f'got {loss_reduction!r}')
        if loss_divisor is not None and not loss_divisor > 0:
            raise ValueError(f'loss_divisor must be a positive number or None (the number of EVAD '
                             f'loss terms), got {loss_divisor!r}')
        if not 0. <= person_score_thr <= 1.:
            raise ValueError(f'person_score_thr is a probability; got {person_score_thr}')
        if person_nms_iou_thr is not None and not 0. < person_nms_iou_thr <= 1.:
            raise ValueError(f'person_nms_iou_thr is an IoU in (0, 1] or None (no NMS); got '
                             f'{person_nms_iou_thr}')
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck)
        self.localization_head = MODELS.build(localization_head)
        self.roi_head = MODELS.build(roi_head)
        self._check_pad_size_divisor()
        self.person_score_thr = person_score_thr
        self.person_nms_iou_thr = person_nms_iou_thr
        self.action_scores_times_person = bool(action_scores_times_person)
        self.loss_reduction = loss_reduction
        self.loss_divisor = (float(loss_divisor) if loss_divisor is not None else
                             float(self._num_loss_terms()) if loss_reduction == 'mean' else None)

    def _num_loss_terms(self) -> int:
        """The number of EVAD loss terms, as the heads declare it (optional extras excluded)."""
        counts = []
        for name in ('localization_head', 'roi_head'):
            count = getattr(getattr(self, name), 'num_loss_terms', None)
            if count is None:
                raise ValueError(
                    f'{name} ({type(getattr(self, name)).__name__}) does not declare '
                    f"num_loss_terms, which loss_reduction='mean' divides by; set "
                    f'loss_divisor=<number of loss terms> or loss_reduction=\'sum\'')
            counts.append(int(count))
        return sum(counts)

    def _check_pad_size_divisor(self) -> None:
        """Refuse a data preprocessor whose padded size is not a multiple of every stride.

        The check lives here because only the detector sees both sides: the preprocessor pads,
        the backbone fixes the strides (``patch_size`` and ``feature_strides``). A padded size
        that is not a multiple of the stride-32 map's stride floors that map's size, so its
        cells no longer lie at 32-pixel steps and every RoI is pooled from the wrong place.
        """
        divisor = getattr(self.data_preprocessor, 'pad_size_divisor', None)
        strides = [getattr(self.backbone, 'patch_size', 1),
                   *getattr(self.backbone, 'feature_strides', ())]
        largest = max(int(s) for s in strides)
        if divisor is not None and divisor % largest:
            raise ValueError(
                f'data_preprocessor.pad_size_divisor={divisor} is not a multiple of the '
                f"backbone's largest stride {largest} (patch_size and feature_strides "
                f'{tuple(strides[1:])}): the stride-{largest} maps would be misaligned with the '
                f'image and RoIs pooled from the wrong place. Set pad_size_divisor={largest} '
                f'(or a multiple of it)')

    def extract_feat(self, inputs: Tensor) -> Tuple[TokenPruningOutput, Tuple[Tensor, ...]]:
        """Args:
            inputs (Tensor): ``(B, 3, T, H, W)`` normalised, padded clips.

        Returns:
            tuple: the backbone's :class:`TokenPruningOutput` and the FPN maps p2..p5.
        """
        feats = self.backbone(inputs)
        if not isinstance(feats, TokenPruningOutput):
            raise TypeError(f"EVAD's backbone must return a TokenPruningOutput (TokenPruningViT "
                            f"with out_type='evad'), got {type(feats).__name__}")
        return feats, tuple(self.neck(feats.keyframe_feats))

    def loss(self, inputs: Tensor, data_samples: SampleList) -> Dict[str, Tensor]:
        """Localization losses of every stage and action losses of every decoder layer.

        Args:
            inputs (Tensor): ``(B, 3, T, H, W)``.
            data_samples (list[ActionDataSample]): with ``gt_instances.bboxes`` (pixel xyxy of
                the resized clip) and ``gt_instances.labels`` (multi-hot action labels).

        Returns:
            dict[str, Tensor]: ``s{i}.loss_*`` and ``d{j}.loss_action`` terms (divided by
            ``loss_divisor`` with ``loss_reduction='mean'``) and logged metrics.
        """
        feats, fpn_feats = self.extract_feat(inputs)
        losses, proposals = self.localization_head.loss_and_predict(fpn_feats, data_samples)
        action_losses = self.roi_head.loss(feats, proposals, data_samples)
        overlap = set(losses) & set(action_losses)
        if overlap:
            raise KeyError(f'the localization and RoI heads both report {sorted(overlap)}')
        losses.update(action_losses)
        return self._reduce(losses)

    def _reduce(self, losses: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """Divide every loss term by ``loss_divisor`` (``'mean'``); metrics stay as they are.

        The divisor is fixed at construction rather than counted from ``losses``: counting would
        let optional terms rescale the EVAD ones (docs/official_behaviours.md#d10).
        """
        if self.loss_reduction == 'sum':
            return losses
        return {
            key: value / self.loss_divisor if 'loss' in key else value
            for key, value in losses.items()
        }

    def predict(self, inputs: Tensor, data_samples: SampleList, **kwargs) -> SampleList:
        """Detect actors and score their actions.

        Every proposal takes part in the context refinement (actors attend to each other);
        the person-score selection (docs/official_behaviours.md#d9) is applied to the outputs.

        Returns:
            list[ActionDataSample]: ``data_samples`` with ``pred_instances``: ``bboxes`` (n, 4)
            xyxy in [0, 1] of the frame, ``scores`` (n, num_classes + 1) action probabilities
            with column 0 unused — the layout ``AVAMetric`` reads — and ``person_scores`` (n,).
        """
        _, _, results = self._detect(inputs, data_samples)
        for data_sample, result in zip(data_samples, results):
            data_sample.pred_instances = result
        return data_samples

    def _detect(self, inputs: Tensor, data_samples: SampleList):
        feats, fpn_feats = self.extract_feat(inputs)
        proposals = self.localization_head.predict(fpn_feats, data_samples)
        actions = self.roi_head.predict(feats, proposals, data_samples)
        results = [self.select_detections(proposal, actors, data_sample.metainfo)
                   for proposal, actors, data_sample in zip(proposals, actions, data_samples)]
        return proposals, actions, results

    def select_detections(self,
                          proposal: InstanceData,
                          actors: InstanceData,
                          img_meta: dict,
                          score_thr: Optional[float] = None) -> InstanceData:
        """The test-time output of one image (docs/algorithm.md#test-output): the persons kept by
        :meth:`select_persons`, their boxes clipped to the image in the ``[0, 1]`` frame, and their
        action scores, times their person scores if ``action_scores_times_person``.

        EVAD's output boxes are clipped here, where the output is formed, to the last pixel
        ``[0, w - 1] x [0, h - 1]`` (``clip_bboxes``): the localization head hands on its boxes
        as predicted, and the RoI head pooled them enlarged and then clipped
        (docs/algorithm.md#roi-extension).

        Args:
            proposal (InstanceData): the localization head's ``bboxes`` ``(P, 4)`` pixel xyxy
                (not clipped) and ``scores`` ``(P,)`` person probabilities.
            actors (InstanceData): the RoI head's ``scores`` ``(P, num_classes + 1)`` for the
                same proposals.
            img_meta (dict): the data sample's metainfo: ``img_shape`` ``(h, w)`` of the resized
                unpadded clip and, if the pipeline recorded them, ``flip`` and ``crop_quadruple``
                (undone in the ``[0, 1]`` frame, :func:`bboxes_to_unit`).
            score_thr (float, optional): see :meth:`select_persons`.

        Returns:
            InstanceData: the kept persons (a new object): ``bboxes`` ``(n, 4)`` xyxy in
            ``[0, 1]``, ``actors``' ``scores`` ``(n, num_classes + 1)`` and ``person_scores``
            ``(n,)`` their person probabilities.
        """
        bboxes = clip_bboxes(proposal.bboxes, img_meta['img_shape'])
        keep = self.select_persons(proposal.scores, score_thr, bboxes)
        result = actors[keep]
        # the RoI head returns the boxes it was given, which may cross the image border
        result.bboxes = bboxes_to_unit(bboxes[keep], img_meta)
        # the person probabilities travel with the boxes (the inference API and the demo show
        # them); AVAMetric reads only bboxes and scores
        result.person_scores = proposal.scores[keep]
        if self.action_scores_times_person:
            scores = result.scores.clone()
            scores[:, 1:] *= proposal.scores[keep, None].to(scores.dtype)
            result.scores = scores
        return result

    def select_persons(self,
                       person_scores: Tensor,
                       score_thr: Optional[float] = None,
                       bboxes: Optional[Tensor] = None) -> Tensor:
        """Indices of the proposals kept at test time (docs/official_behaviours.md#d9), then NMS if
        ``person_nms_iou_thr`` is set.

        Args:
            person_scores (Tensor): ``(P,)`` person probabilities of one image.
            score_thr (float, optional): threshold to use instead of ``person_score_thr``
                (analysis tools compare several).
            bboxes (Tensor, optional): ``(P, 4)`` xyxy proposal boxes; needed for NMS.

        Returns:
            Tensor: ``(n,)`` long, by decreasing person score after NMS, in proposal order
            without; all ``P`` when no score reaches the threshold.
        """
        thr = self.person_score_thr if score_thr is None else score_thr
        keep = (person_scores >= thr).nonzero().flatten()
        if keep.numel() == 0:
            keep = torch.arange(person_scores.numel(), device=person_scores.device)
        if self.person_nms_iou_thr is None or keep.numel() < 2:
            return keep
        if bboxes is None:
            raise ValueError('person_nms_iou_thr is set, so select_persons needs the proposal '
                             'boxes: pass bboxes=')
        _, survivors = nms(bboxes[keep].float(), person_scores[keep].float(),
                           self.person_nms_iou_thr)
        return keep[survivors]

    def _forward(self,
                 inputs: Tensor,
                 data_samples: Optional[SampleList] = None) -> Tuple[Tensor, Tensor, Tensor]:
        """The heads' raw outputs for every proposal (``mode='tensor'``).

        As mmdet's tensor mode, it composes the heads' forwards and stops before any
        post-processing: no softmax / sigmoid, no clipping, no person selection. It computes
        everything :meth:`predict` computes (FLOP counting traces it,
        ``tools/analysis_tools/get_flops.py``); ``mmevad.deployment`` exports the per-proposal
        outputs after the heads' post-processing instead.

        Args:
            inputs (Tensor): ``(B, 3, T, H, W)`` normalised, padded clips.
            data_samples (list[ActionDataSample], optional): ``metainfo['img_shape']``, the
                unpadded ``(h, w)`` of each clip. Defaults to None: the whole input.

        Returns:
            tuple[Tensor]:

            - bboxes: ``(B, P, 4)`` the last localization stage's boxes, pixel xyxy of the
              resized unpadded clip, not clipped to it (the test-time output clips them,
              :meth:`select_detections`).
            - person_logits: ``(B, P, 2)`` the last stage's class logits, index 0 person,
              1 no-object; ``softmax(-1)[..., 0]`` is the person probability.
            - action_logits: ``(B, P, num_classes)`` the last decoder layer's logits of every
              proposal; ``sigmoid`` gives the action scores (``softmax`` with the RoI head's
              ``multilabel=False``).
        """
        if data_samples is None:
            data_samples = _samples_for(inputs)
        feats, fpn_feats = self.extract_feat(inputs)
        stage_logits, stage_bboxes = self.localization_head(fpn_feats, data_samples)
        bboxes = stage_bboxes[-1]  # (B, P, 4)
        proposals = [InstanceData(bboxes=image_bboxes) for image_bboxes in bboxes]
        action_logits = self.roi_head(feats, proposals, data_samples)[-1]  # (B * P, K)
        return bboxes, stage_logits[-1], action_logits.view(*bboxes.shape[:2], -1)


def _samples_for(inputs: Tensor) -> SampleList:
    """Data samples whose ``img_shape`` is the whole input, for calls without any."""
    h, w = inputs.shape[-2:]
    return [ActionDataSample(metainfo=dict(img_shape=(h, w))) for _ in range(inputs.shape[0])]
