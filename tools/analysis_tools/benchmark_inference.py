"""Keyframes per second of ``mmevad.apis.detect_video``: the whole inference path (clip sampling
through the config's pipeline, data preprocessor, EVAD, pixel boxes), without video decoding
or drawing.

    python tools/analysis_tools/benchmark_inference.py [CONFIG ...] [--batch-sizes 1 4]
        [--keyframes 4] [--frame-size 240 426] [--short-side 288] [--device cpu] [--threads 2]
        [--warmup 1] [--out results.json]

CONFIG defaults to the tiny synthetic config of the quickstart and the released ViT-B configs
with keep rate 1.0 and 0.7 (short side 288, 16 frames). Weights are random (a model's speed
does not depend on its weights; EVAD's selection keeps at most its ``num_proposals`` persons).

Each configuration runs ``detect_video`` on ``--keyframes`` keyframes (one per second) of random
frames held in memory, after ``--warmup`` untimed batches, and reports keyframes per second
(wall clock) and the process's CPU seconds per keyframe (all threads; on a shared machine less
sensitive to the other jobs than the wall clock). ``--short-side`` overrides the configs'
``Resize`` (None keeps it). Timings on a shared machine vary with its load: compare rows of one
run.
"""
import argparse
import json
import os.path as osp
import sys
import time

import numpy as np
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)  # runs from a source checkout

from mmengine.config import Config  # noqa: E402

from mmevad.apis import KeyframeClipPipeline, detect_video, init_detector  # noqa: E402
from mmevad.utils import device_from_args  # noqa: E402

TINY = osp.join(ROOT, 'configs', 'evad',
                'evad_vit-tiny-p8-stem-ktp0.7_scratch_1xb8-4x8x1-1900it_synthetic-ava-rgb.py')
VIT_B = [
    osp.join(ROOT, 'configs', 'evad',
             f'evad_vit-base-p16-ktp{keep}_videomae-k400-pre_8xb2-16x4x1-12e_ava22-rgb.py')
    for keep in ('1.0', '0.7')
]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Keyframes/s of detect_video')
    parser.add_argument('configs', nargs='*', default=None,
                        help='EVAD configs; default: the tiny synthetic and ViT-B keep 1.0 / 0.7')
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 4])
    parser.add_argument('--keyframes', type=int, default=4, help='timed keyframes per run')
    parser.add_argument('--frame-size', type=int, nargs=2, default=[240, 426],
                        metavar=('H', 'W'), help='size of the random input frames')
    parser.add_argument('--short-side', type=int, default=None,
                        help="resize to this short side instead of the config's")
    parser.add_argument('--warmup', type=int, default=1, help='untimed batches first')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--out', help='also write the rows as JSON')
    return parser.parse_args(argv)


def short_side_of(cfg: Config) -> int:
    for step in cfg.test_dataloader.dataset.pipeline:
        if step['type'] == 'Resize':
            return int(min(s for s in step['scale'] if s > 0))
    raise ValueError('the test pipeline has no Resize')


def with_short_side(cfg: Config, short_side: int) -> Config:
    for step in cfg.test_dataloader.dataset.pipeline:
        if step['type'] == 'Resize':
            step['scale'] = (-1, short_side)
    return cfg


def keep_rates_of(cfg: Config) -> str:
    rates = cfg.model.backbone.get('keep_rates')
    if not rates:
        return '1.0'
    rates = [float(r) for r in rates]
    pruned = sorted({r for r in rates if r < 1})
    return '/'.join(f'{r:g}' for r in pruned) + f' in {sum(r < 1 for r in rates)} blocks' \
        if pruned else '1.0'


def benchmark(config: str, batch_size: int, args) -> dict:
    cfg = Config.fromfile(config)
    if args.short_side:
        cfg = with_short_side(cfg, args.short_side)
    model = init_detector(cfg, device=args.device)
    pipeline = KeyframeClipPipeline(model.cfg)
    fps = 30
    height, width = args.frame_size
    rng = np.random.default_rng(0)

    def frames_for(num_keyframes):
        # keyframe j sits at frame 15 + 30 j; the last clip reads frames_after frames more
        n = 15 + 30 * (num_keyframes - 1) + pipeline.frames_after + 1
        return rng.integers(0, 256, (n, height, width, 3), dtype=np.uint8)

    if args.warmup:
        detect_video(model, frames_for(args.warmup * batch_size), 1.0, batch_size,
                     progress=False, fps=fps)
    frames = frames_for(args.keyframes)
    if args.device.startswith('cuda'):
        torch.cuda.synchronize()
    start, cpu_start = time.perf_counter(), time.process_time()
    results = detect_video(model, frames, 1.0, batch_size, progress=False, fps=fps)
    if args.device.startswith('cuda'):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    assert len(results) == args.keyframes, (len(results), args.keyframes)
    return dict(
        config=osp.basename(config),
        keep_rates=keep_rates_of(cfg),
        clip=f'{pipeline.clip_len}x{pipeline.frame_interval}',
        short_side=short_side_of(cfg),
        batch_size=batch_size,
        keyframes=len(results),
        seconds=round(seconds, 2),
        keyframes_per_s=round(len(results) / seconds, 3),
        cpu_s_per_keyframe=round(cpu_seconds / len(results), 2))


def main(argv=None):
    args = parse_args(argv)
    device_from_args(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    configs = args.configs or [TINY, *VIT_B]
    rows = []
    print('| config | keep rates | clip | short side | batch | keyframes | s | keyframes/s | '
          'CPU s / keyframe |')
    print('|---|---|---|---|---|---|---|---|---|')
    for config in configs:
        for batch_size in args.batch_sizes:
            row = benchmark(config, batch_size, args)
            rows.append(row)
            print(f"| {row['config']} | {row['keep_rates']} | {row['clip']} | "
                  f"{row['short_side']} | {row['batch_size']} | {row['keyframes']} | "
                  f"{row['seconds']} | {row['keyframes_per_s']} | {row['cpu_s_per_keyframe']} |",
                  flush=True)
    print(f'device {args.device}, torch threads {torch.get_num_threads()}, input frames '
          f'{args.frame_size[0]}x{args.frame_size[1]}, random weights')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(rows, f, indent=1)


if __name__ == '__main__':
    main()
