"""Frame-mAP and video-mAP of an AVA-layout detector on ACT-style tube ground truth."""
from typing import Any, Optional, Sequence, Tuple

from mmaction.evaluation import MultiSportsMetric
from mmaction.registry import METRICS

__all__ = ['TubeMAPMetric']


@METRICS.register_module()
class TubeMAPMetric(MultiSportsMetric):
    """mmaction2's ``MultiSportsMetric`` (frame-mAP, tube linking, video-mAP of MultiSports,
    ACT and MOC) for detectors whose scores keep AVA's layout, on any split.

    ``MultiSportsMetric`` gives each predicted box the class of its highest score and reads the
    score columns as the 0-based labels of the ground-truth pickle. mmevad's action head (and
    every mmaction2 AVA head with a background column) puts class ``k`` in column ``k + 1``
    with column 0 unused, and :func:`mmevad.datasets.convert_tubes_to_ava` writes the labels
    1-based for it: this metric drops the first ``score_offset`` columns before handing the
    predictions on. It also evaluates the test videos of the given ``split`` where
    ``MultiSportsMetric`` always takes the first (JHMDB-21 has three splits).

    Results are in percent, as ``MultiSportsMetric`` reports them: with the default prefix,
    ``mAP/frameAP`` (frame-mAP at IoU ``F_mAP.thr``), ``mAP/v_map@0.2`` and ``mAP/v_map@0.5``
    (video-mAP at spatio-temporal IoU 0.2 and 0.5), and with ``V_mAP.all`` the averages over
    IoU ranges. Videos: tubes are linked per class from the frame detections
    (``mmaction.evaluation.link_tubes``; tubes shorter than ``V_mAP.tube_thr`` frames are
    dropped). mmevad mends a defect of that linking in mmaction2 1.2.0 (every detection got the
    score of the last one; see :mod:`mmevad.compat`).

    Args:
        ann_file (str): the ACT-style ground-truth pickle.
        split (int): 1-based split whose ``test_videos`` are evaluated. Defaults to 1.
        score_offset (int): score columns before class 0. Defaults to 1 (AVA layout); 0 for a
            head without the unused column (mmaction2's MultiSports configs).
        metric_options (dict, optional): as ``MultiSportsMetric``. Defaults to frame-mAP@0.5
            and video-mAP@0.2/0.5 with tubes of at least 15 frames, without the IoU-range
            averages.
        **kwargs: ``collect_device``, ``verbose``, ``prefix``.
    """

    def __init__(self,
                 ann_file: str,
                 split: int = 1,
                 score_offset: int = 1,
                 metric_options: Optional[dict] = None,
                 **kwargs) -> None:
        if metric_options is None:
            metric_options = dict(
                F_mAP=dict(thr=0.5), V_mAP=dict(thr=(0.2, 0.5), all=False, tube_thr=15))
        super().__init__(ann_file, metric_options=metric_options, **kwargs)
        num_splits = len(self.annos['test_videos'])
        if not 1 <= split <= num_splits:
            raise ValueError(f'split={split}, but {ann_file} has {num_splits} split(s) '
                             f'(1..{num_splits})')
        if score_offset < 0:
            raise ValueError(f'score_offset must be >= 0, got {score_offset}')
        self.split = split
        self.score_offset = score_offset
        # the base class evaluates test_videos[0]: give it this split's list there
        self.annos = dict(self.annos, test_videos=[self.annos['test_videos'][split - 1]])
        self._num_labels = len(self.annos['labels'])

    def process(self, data_batch: Sequence[Tuple[Any, dict]],
                data_samples: Sequence[dict]) -> None:
        """Store each box with its class scores, the unused leading columns dropped.

        Args:
            data_batch: unused.
            data_samples (Sequence[dict]): ``video_id``, ``timestamp`` (frame number) and
                ``pred_instances`` with ``bboxes`` ``(n, 4)`` in [0, 1] and ``scores``
                ``(n, score_offset + K)``.
        """
        for sample in data_samples:
            scores = sample['pred_instances']['scores']
            if scores.shape[-1] != self.score_offset + self._num_labels:
                raise ValueError(
                    f'predictions have {scores.shape[-1]} score columns; the ground truth has '
                    f'{self._num_labels} labels and score_offset={self.score_offset} (the RoI '
                    f'head needs num_classes={self._num_labels})')
            bboxes = sample['pred_instances']['bboxes'].cpu().numpy().copy()
            self.results.append([
                sample['video_id'].split('.mp4')[0], sample['timestamp'], bboxes,
                scores[:, self.score_offset:].cpu().numpy()
            ])
