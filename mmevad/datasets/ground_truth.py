from typing import List

import torch
from mmengine.dataset import BaseDataset


def ground_truth_as_predictions(dataset: BaseDataset) -> List[dict]:
    """The annotations of an AVA-style dataset written as ``AVAMetric`` inputs.

    Each keyframe becomes one processed data sample whose ``pred_instances`` are its annotated
    boxes (``[0, 1]`` xyxy, as AVADataset stores them) with score 1 for every labelled action and
    0 elsewhere. Scoring them must give mAP 1.0 on a consistent dataset.

    Args:
        dataset (BaseDataset): e.g. mmaction's ``AVADataset``; its data infos need
            ``video_id``, ``timestamp``, ``gt_bboxes`` (N, 4) and ``gt_labels`` (N, num_classes).

    Returns:
        list[dict]: ``dict(video_id, timestamp, pred_instances=dict(bboxes, scores))`` per keyframe.
    """
    samples = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        samples.append(
            dict(
                video_id=info['video_id'],
                timestamp=info['timestamp'],
                pred_instances=dict(
                    bboxes=torch.as_tensor(info['gt_bboxes'], dtype=torch.float32),
                    scores=torch.as_tensor(info['gt_labels'], dtype=torch.float32))))
    return samples
