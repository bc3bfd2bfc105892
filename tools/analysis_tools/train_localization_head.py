"""Train a tiny EVAD localization branch on synthetic AVA keyframes and report person AP@0.5.

A check that the localization branch learns, not a benchmark: a tiny TokenPruningViT, the mmdet
FPN and QueryLocalizationHead of ``configs/_base_/models/evad_vit-base-p16.py`` (shrunk) are
trained end to end, from scratch, on the training keyframes of a synthetic AVA dataset
(``mmevad.datasets.generate_synthetic_ava``), read by ``EVADAVADataset`` (mmaction2's
``AVADataset``, validated). Person AP@0.5 on the held-out videos is computed with mmdet's
``eval_map`` on class-agnostic boxes (all ``P`` last-stage proposals per keyframe, ranked by
person probability).

Example::

    python tools/analysis_tools/train_localization_head.py --work-dir work_dirs/loc_synth
"""
import argparse
import json
import os
import os.path as osp
import time

import numpy as np
import torch
import torch.nn as nn
from mmdet.evaluation.functional import eval_map
from mmdet.structures.bbox import bbox_overlaps
from mmengine.config import Config
from mmengine.dataset import InfiniteSampler, pseudo_collate
from mmengine.registry import DefaultScope
from mmengine.runner import set_random_seed
from torch.utils.data import DataLoader

import mmevad  # noqa: F401  (registers everything)
from mmaction.registry import MODELS
from mmevad.datasets import EVADAVADataset, generate_synthetic_ava
from mmevad.structures import clip_bboxes

MODEL_CONFIG = osp.join(osp.dirname(__file__), '..', '..', 'configs', '_base_', 'models',
                        'evad_vit-base-p16.py')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/train_localization_head',
                        help='where the synthetic data, log and checkpoint go')
    parser.add_argument('--iters', type=int, default=1200, help='training iterations')
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--lr', type=float, default=2e-4, help='AdamW learning rate')
    parser.add_argument('--num-train-videos', type=int, default=36)
    parser.add_argument('--num-val-videos', type=int, default=4)
    parser.add_argument('--short-side', type=int, default=192,
                        help='resized frame height (the synthetic frames are 144 high)')
    parser.add_argument('--num-frames', type=int, default=8, help='clip length T')
    parser.add_argument('--embed-dims', type=int, default=64, help='ViT width')
    parser.add_argument('--depth', type=int, default=4, help='ViT blocks (taps: all four)')
    parser.add_argument('--channels', type=int, default=64, help='FPN / proposal width')
    parser.add_argument('--num-stages', type=int, default=3)
    parser.add_argument('--num-proposals', type=int, default=30)
    parser.add_argument('--eval-interval', type=int, default=300)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int, default=2, help='torch CPU threads')
    return parser.parse_args()


class LocalizationBranch(nn.Module):
    """Preprocessor -> backbone -> FPN -> QueryLocalizationHead: the localization half of the
    EVAD detector, from the ViT-B model config with tiny widths."""

    def __init__(self, args):
        super().__init__()
        model = Config.fromfile(MODEL_CONFIG).model
        depth = args.depth
        model.backbone.update(
            embed_dims=args.embed_dims, depth=depth, num_heads=4, drop_path_rate=0.,
            num_frames=args.num_frames, with_cp=False,
            keep_rates=[0.7 if i == depth // 2 else 1.0 for i in range(depth)],
            feature_taps=tuple(range(depth - 4, depth)))
        model.neck.update(in_channels=[args.embed_dims] * 4, out_channels=args.channels)
        head = model.localization_head
        head.update(num_stages=args.num_stages, num_proposals=args.num_proposals,
                    proposal_feature_channel=args.channels)
        head.bbox_roi_extractor.out_channels = args.channels
        head.bbox_head.update(in_channels=args.channels, feedforward_channels=4 * args.channels,
                              num_heads=4)
        head.bbox_head.dynamic_conv_cfg.update(in_channels=args.channels, feat_channels=32,
                                               out_channels=args.channels)
        self.data_preprocessor = MODELS.build(model.data_preprocessor)
        self.backbone = MODELS.build(model.backbone)
        self.neck = MODELS.build(model.neck)
        self.localization_head = MODELS.build(head)
        for module in (self.backbone, self.neck, self.localization_head):
            module.init_weights()

    def feats(self, data, training):
        data = self.data_preprocessor(data, training)
        keyframe_feats = self.backbone(data['inputs']).keyframe_feats
        return self.neck(keyframe_feats), data['data_samples']


def build_dataset(data, split, args, evaluate=None):
    """mmevad's EVADAVADataset (mmaction's AVADataset, validated) on a split, clips centred on
    the annotated keyframe; ``evaluate`` (default: split is val) drops the flip."""
    test_mode = split == 'val' if evaluate is None else evaluate
    pipeline = [
        dict(type='SampleAVAKeyframeClip', clip_len=args.num_frames, frame_interval=2,
             test_mode=test_mode),
        dict(type='CheckedRawFrameDecode'),
        dict(type='Resize', scale=(-1, args.short_side)),
    ]
    if not test_mode:
        pipeline.append(dict(type='Flip', flip_ratio=0.5))
    pipeline += [
        dict(type='FormatShape', input_format='NCTHW', collapse=True),
        dict(type='PackActionInputs')
    ]
    return EVADAVADataset(
        ann_file=getattr(data, f'ann_file_{split}'),
        exclude_file=getattr(data, f'exclude_file_{split}'),
        label_file=data.label_file,
        pipeline=pipeline,
        data_prefix=dict(img=data.data_root),
        test_mode=test_mode)


@torch.no_grad()
def person_ap(model, dataset, batch_size):
    """Class-agnostic AP@0.5 of all proposals (mmdet ``eval_map``) and the fraction of person
    boxes that some proposal overlaps with IoU >= 0.5 whatever its score, in resized pixels.

    Returns:
        tuple[float, float, int]: AP@0.5, recall@0.5 of all proposals, number of keyframes.
    """
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, collate_fn=pseudo_collate)
    det_results, annotations, best_ious = [], [], []
    for batch in loader:
        feats, data_samples = model.feats(batch, training=False)
        results = model.localization_head.predict(feats, data_samples)
        for result, data_sample in zip(results, data_samples):
            # the boxes as EVAD outputs them: clipped to the image (EVAD.select_detections)
            result.bboxes = clip_bboxes(result.bboxes, data_sample.metainfo['img_shape'])
            dets = torch.cat([result.bboxes, result.scores[:, None]], dim=1)
            det_results.append([dets.numpy()])
            gt = data_sample.gt_instances.bboxes.reshape(-1, 4)
            annotations.append(dict(bboxes=gt.numpy(), labels=np.zeros(len(gt), dtype=np.int64)))
            if len(gt):
                best_ious.append(bbox_overlaps(result.bboxes, gt).max(0).values)
    model.train()
    mean_ap, _ = eval_map(det_results, annotations, iou_thr=0.5, logger='silent', nproc=1)
    recall = float((torch.cat(best_ious) >= 0.5).float().mean())
    return float(mean_ap), recall, len(det_results)


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    set_random_seed(args.seed)
    DefaultScope.get_instance('train_localization_head', scope_name='mmaction')
    os.makedirs(args.work_dir, exist_ok=True)

    start = time.time()
    data = generate_synthetic_ava(
        osp.join(args.work_dir, 'synthetic_ava'), num_train_videos=args.num_train_videos,
        num_val_videos=args.num_val_videos, seed=args.seed, with_proposals=False)
    train_set, val_set = build_dataset(data, 'train', args), build_dataset(data, 'val', args)
    print(f'synthetic AVA: {len(train_set)} train / {len(val_set)} val keyframes '
          f'({time.time() - start:.0f} s)', flush=True)

    model = LocalizationBranch(args)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    warmup = max(1, args.iters // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda it: min(1.0, (it + 1) / warmup) * (0.1 if it >= 0.8 * args.iters else 1))
    loader = DataLoader(train_set, batch_size=args.batch_size, collate_fn=pseudo_collate,
                        sampler=InfiniteSampler(train_set, seed=args.seed), num_workers=1)

    log = []
    model.train()
    for it, batch in zip(range(1, args.iters + 1), loader):
        feats, data_samples = model.feats(batch, training=True)
        losses = model.localization_head.loss(feats, data_samples)
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)  # as mmdet Sparse R-CNN
        optimizer.step()
        schedule.step()
        last = args.num_stages - 1
        if it % 20 == 0 or it == 1:
            print(f'iter {it:4d}  loss {loss.item():.3f}  '
                  f'last stage: cls {losses[f"s{last}.loss_cls"].item():.3f} '
                  f'bbox {losses[f"s{last}.loss_bbox"].item():.3f} '
                  f'giou {losses[f"s{last}.loss_giou"].item():.3f}  '
                  f'({time.time() - start:.0f} s)', flush=True)
        if it % args.eval_interval == 0 or it == args.iters:
            ap, recall, n = person_ap(model, val_set, args.batch_size)
            print(f'iter {it:4d}  val person AP@0.5 = {ap:.4f}, recall@0.5 of all proposals '
                  f'{recall:.4f} on {n} keyframes', flush=True)
            log.append(dict(iter=it, loss=loss.item(), val_person_ap50=ap, val_recall50=recall))

    # the same evaluation on the training keyframes, to tell under- from over-fitting
    train_ap, train_recall, n_train = person_ap(
        model, build_dataset(data, 'train', args, evaluate=True), args.batch_size)
    torch.save(model.state_dict(), osp.join(args.work_dir, 'final.pth'))
    summary = dict(args=vars(args), log=log, final_val_person_ap50=log[-1]['val_person_ap50'],
                   final_val_recall50=log[-1]['val_recall50'], final_train_person_ap50=train_ap,
                   final_train_recall50=train_recall, seconds=time.time() - start)
    with open(osp.join(args.work_dir, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    print(f'final: val person AP@0.5 {summary["final_val_person_ap50"]:.4f} (recall@0.5 '
          f'{summary["final_val_recall50"]:.4f}), train-keyframe AP@0.5 {train_ap:.4f} (recall@0.5 '
          f'{train_recall:.4f}, {n_train} keyframes), {summary["seconds"]:.0f} s')


if __name__ == '__main__':
    main()
