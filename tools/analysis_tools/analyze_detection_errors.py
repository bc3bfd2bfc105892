"""Split an EVAD model's frame-mAP into localization and action-classification errors.

    python tools/analysis_tools/analyze_detection_errors.py CONFIG CHECKPOINT
        [--splits val train] [--thresholds 0.7 0.3] [--val-data-root DIR]
        [--no-strict-load] [--device cuda:0|cpu] [--cfg-options k=v ...]

For each split it reports, with the config's evaluator (``AVAMetric``):

- ``mAP``: the model as it is tested (person selection at each ``--thresholds`` value);
- ``person AP@0.5``: class-agnostic AP of all localization proposals (mmdet ``eval_map``),
  and on a second line at IoU 0.3 and 0.7 (a low AP@0.7 with a fair AP@0.3 means imprecise
  boxes rather than missed people);
- ``oracle-box mAP``: the action branch scored on the ground-truth boxes instead of the
  proposals (every annotated person, person score 1) — the mAP a perfect localizer would give.

``train`` reads the training annotations with the validation pipeline (no augmentation), so a
large train/val gap means over-fitting, and low numbers on both mean under-fitting.

``--val-data-root`` reads the ``val`` split from another data root of the same layout, e.g. a
synthetic set generated with more validation videos (``generate_synthetic_ava.py DIR
--num-train-videos 1 --num-val-videos 20``; its first 4 videos are the default ones): the default
split has 36 keyframes, too few to tell recipes apart.

``--device`` runs the model there (default: the first GPU if there is one, else the CPU); the
evaluation itself runs on the CPU, as ``tools/test.py``'s does.
"""
import argparse
import copy
import os.path as osp

import numpy as np
import torch
from mmdet.evaluation.functional import eval_map
from mmengine.config import DictAction
from mmengine.runner import Runner
from mmengine.structures import InstanceData

import mmevad  # noqa: F401  (compat fixes, registers the models)
from mmevad.structures import clip_bboxes
from mmevad.utils import (checkpoint_from_args, device_from_args, load_checkpoint_strictly,
                          load_config)


def parse_args():
    parser = argparse.ArgumentParser(description='Localization vs action errors of EVAD')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--splits', nargs='+', choices=['val', 'train'], default=['val', 'train'])
    parser.add_argument('--thresholds', type=float, nargs='+', default=[0.7],
                        help='person_score_thr values to test the model at')
    parser.add_argument('--val-data-root',
                        help='read the val split from this data root instead (same layout)')
    parser.add_argument('--no-strict-load', action='store_true',
                        help='load a checkpoint that does not fit the model of the config')
    parser.add_argument('--device', help='e.g. cuda:0 or cpu; default: cuda:0 if a GPU is '
                        'visible, else cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='config overrides')
    return parser.parse_args()


def split_settings(cfg, split, val_data_root=None):
    """(dataloader cfg, evaluator cfg) of ``split``: the val ones, with the training annotation
    files for ``'train'``; for ``'val'`` with every path under ``val_data_root`` instead of the
    config's data root (the parent of ``data_prefix.img``), if given."""
    loader, evaluator = copy.deepcopy(cfg.val_dataloader), copy.deepcopy(cfg.val_evaluator)
    loader.update(num_workers=0, persistent_workers=False)
    if split == 'val' and val_data_root:
        old_root = osp.dirname(osp.normpath(loader.dataset.data_prefix.img))
        paths = ((loader.dataset, 'ann_file'), (loader.dataset, 'exclude_file'),
                 (loader.dataset, 'proposal_file'), (loader.dataset.data_prefix, 'img'),
                 (evaluator, 'ann_file'), (evaluator, 'exclude_file'), (evaluator, 'label_file'))
        for node, key in paths:
            if node.get(key):
                node[key] = _rebase(node[key], old_root, val_data_root)
    if split == 'train':
        train_set = cfg.train_dataloader.dataset
        for key in ('ann_file', 'exclude_file'):
            loader.dataset[key] = train_set[key]
        loader.dataset.data_prefix = train_set.data_prefix
        evaluator.update(ann_file=train_set.ann_file, exclude_file=train_set.exclude_file)
    return loader, evaluator


def _rebase(path, old_root, new_root):
    """``path`` with its leading ``old_root`` replaced by ``new_root``."""
    if not path.startswith(old_root):
        raise ValueError(f'{path!r} is not under the data root {old_root!r}; '
                         f'--val-data-root replaces that root')
    return new_root + path[len(old_root):]


def ground_truth_proposals(data_samples):
    """Every annotated person as a proposal with person score 1."""
    return [InstanceData(bboxes=s.gt_instances.bboxes.float(),
                         scores=torch.ones(len(s.gt_instances.bboxes),
                                           device=s.gt_instances.bboxes.device))
            for s in data_samples]


@torch.no_grad()
def evaluate(model, loader_cfg, evaluator_cfg, thresholds):
    """One pass over the split that ``loader_cfg`` / ``evaluator_cfg`` describe (see
    :func:`split_settings`).

    Returns:
        tuple: ({threshold: AVAMetric mAP}, oracle-box mAP, {IoU threshold: class-agnostic
        person AP of the proposals} for IoU 0.3, 0.5 and 0.7, number of keyframes).
    """
    from mmaction.registry import METRICS
    loader = Runner.build_dataloader(loader_cfg)
    metrics = {key: METRICS.build(evaluator_cfg) for key in [*thresholds, 'oracle']}
    for metric in metrics.values():
        metric.dataset_meta = loader.dataset.metainfo
    detections, annotations = [], []

    def score(key, data_samples, results):
        for sample, result in zip(data_samples, results):
            sample.pred_instances = result
        metrics[key].process(None, [s.to_dict() for s in data_samples])

    for data in loader:
        data = model.data_preprocessor(data, False)
        data_samples = data['data_samples']
        feats, fpn_feats = model.extract_feat(data['inputs'])
        proposals = model.localization_head.predict(fpn_feats, data_samples)
        for proposal, sample in zip(proposals, data_samples):
            # the boxes as the model outputs them: clipped to the image (EVAD.select_detections)
            bboxes = clip_bboxes(proposal.bboxes, sample.metainfo['img_shape'])
            detections.append([torch.cat([bboxes, proposal.scores[:, None]], 1).cpu().numpy()])
            gt = sample.gt_instances.bboxes.cpu().numpy().reshape(-1, 4)
            annotations.append(dict(bboxes=gt, labels=np.zeros(len(gt), dtype=np.int64)))
        actions = model.roi_head.predict(feats, proposals, data_samples)
        # the model's test-time output (docs/official_behaviours.md#d9) at each threshold
        for thr in thresholds:
            score(thr, data_samples, [model.select_detections(p, a, s.metainfo, thr)
                                      for p, a, s in zip(proposals, actions, data_samples)])
        score('oracle', data_samples,
              model.roi_head.predict(feats, ground_truth_proposals(data_samples), data_samples))
    maps = {key: float(metric.compute_metrics(metric.results)['overall'])
            for key, metric in metrics.items()}
    person_ap = {iou: float(eval_map(detections, annotations, iou_thr=iou, logger='silent',
                                     nproc=1)[0])
                 for iou in (0.3, 0.5, 0.7)}
    return {thr: maps[thr] for thr in thresholds}, maps['oracle'], person_ap, len(annotations)


def main():
    args = parse_args()
    device = device_from_args(args.device)
    checkpoint_from_args(args.checkpoint)
    cfg = load_config(args.config, args.cfg_options)
    from mmaction.registry import MODELS
    model = MODELS.build(cfg.model)
    load_checkpoint_strictly(
        model, args.checkpoint, map_location='cpu', strict=not args.no_strict_load,
        hint='Pass --no-strict-load to analyse with the weights that fit.')
    # the data preprocessor follows the model, so batches land on the same device
    model.to(device).eval()
    for split in args.splits:
        loader_cfg, evaluator_cfg = split_settings(cfg, split, args.val_data_root)
        maps, oracle_map, person_ap, num_keyframes = evaluate(model, loader_cfg, evaluator_cfg,
                                                              args.thresholds)
        print(f'{split}: {num_keyframes} keyframes', flush=True)
        for thr, mean_ap in maps.items():
            print(f'{split}: mAP {mean_ap:.4f} (person_score_thr {thr:g}), '
                  f'person AP@0.5 {person_ap[0.5]:.4f}', flush=True)
        print(f'{split}: person AP@0.3 {person_ap[0.3]:.4f}, '
              f'AP@0.7 {person_ap[0.7]:.4f}', flush=True)
        print(f'{split}: oracle-box mAP {oracle_map:.4f} (ground-truth boxes)', flush=True)


if __name__ == '__main__':
    main()
