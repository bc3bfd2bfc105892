"""Generate the synthetic AVA-format dataset (rawframes, CSVs, exclusions, label map, proposals).

    python tools/data/generate_synthetic_ava.py OUT_DIR [--num-train-videos 12] [--num-val-videos 4]
        [--seconds 10] [--height 144] [--width 192] [--seed 0] [--no-proposals]

OUT_DIR must be empty, new, or an earlier output of this tool (which is replaced). The content
is described in mmevad/datasets/synthetic_ava/generate.py.
"""
import argparse
import json
import os.path as osp
import time

from mmevad.datasets.synthetic_ava import generate_synthetic_ava


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Generate a synthetic AVA-format dataset')
    parser.add_argument('out_dir', help='output directory (the data root, like data/ava)')
    parser.add_argument('--num-train-videos', type=int, default=12, help='training videos')
    parser.add_argument('--num-val-videos', type=int, default=4, help='validation videos')
    parser.add_argument(
        '--seconds', type=int, default=10, help='annotated keyframes (seconds) per video')
    parser.add_argument('--height', type=int, default=144, help='frame height in pixels')
    parser.add_argument('--width', type=int, default=192, help='frame width in pixels')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument(
        '--no-proposals', action='store_true', help='do not write person proposal pickles')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    data = generate_synthetic_ava(
        args.out_dir,
        num_train_videos=args.num_train_videos,
        num_val_videos=args.num_val_videos,
        seconds=args.seconds,
        height=args.height,
        width=args.width,
        seed=args.seed,
        with_proposals=not args.no_proposals)
    elapsed = time.perf_counter() - start
    with open(osp.join(data.root, 'synthetic_ava.json')) as f:
        meta = json.load(f)
    print(f'Wrote a synthetic AVA dataset to {data.root} in {elapsed:.1f} s')
    print(f'  frames        {data.data_root}/<video_id>/img_00001.jpg .. '
          f'img_{meta["frames_per_video"]:05d}.jpg ({meta["width"]}x{meta["height"]}, 30 fps)')
    for split in ('train', 'val'):
        s = meta['splits'][split]
        print(f'  {split:<5} {s["videos"]} videos, {s["keyframes"]} keyframes, {s["boxes"]} '
              f'boxes, {s["csv_rows"]} CSV rows, {s["excluded"]} excluded timestamps')
        print(f'    annotations {getattr(data, f"ann_file_{split}")}')
        print(f'    excluded    {getattr(data, f"exclude_file_{split}")}')
        if getattr(data, f'proposal_file_{split}'):
            print(f'    proposals   {getattr(data, f"proposal_file_{split}")}')
    names = ', '.join(f'{i} {n}' for i, n in zip(data.class_ids, data.class_names))
    print(f'  label map     {data.label_file} ({names})')
    return data


if __name__ == '__main__':
    main()
