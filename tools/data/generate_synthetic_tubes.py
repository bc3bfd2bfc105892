"""Generate the synthetic videos as a tube dataset: frames and an ACT-style ground-truth pickle
with every frame annotated and one action per tube (stand, walk, run, jump).

    python tools/data/generate_synthetic_tubes.py OUT_DIR [--num-train-videos 12]
        [--num-val-videos 4] [--seconds 4] [--height 144] [--width 192] [--seed 0]

Writes OUT_DIR/rawframes/<video>/img_00001.jpg ... and
OUT_DIR/annotations/synthetic_tubes_GT.pkl; convert that with tools/data/tubes_to_ava.py.
OUT_DIR must be empty, new, or an earlier output of this tool. The content is described in
mmevad/datasets/synthetic_ava/tubes.py.
"""
import argparse
import time

from mmevad.datasets.synthetic_ava.tubes import generate_synthetic_tubes, tube_counts


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Generate a synthetic tube dataset')
    parser.add_argument('out_dir', help='output directory')
    parser.add_argument('--num-train-videos', type=int, default=12, help='training videos')
    parser.add_argument('--num-val-videos', type=int, default=4, help='test videos')
    parser.add_argument('--seconds', type=int, default=4,
                        help='video length: 30 * (seconds + 2) + 1 frames')
    parser.add_argument('--height', type=int, default=144, help='frame height in pixels')
    parser.add_argument('--width', type=int, default=192, help='frame width in pixels')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    data = generate_synthetic_tubes(
        args.out_dir, num_train_videos=args.num_train_videos,
        num_val_videos=args.num_val_videos, seconds=args.seconds, height=args.height,
        width=args.width, seed=args.seed)
    print(f'Wrote a synthetic tube dataset to {data.root} in '
          f'{time.perf_counter() - start:.1f} s')
    print(f'  frames        {data.data_root}/<video>/img_00001.jpg .. img_{data.nframes:05d}.jpg')
    print(f'  ground truth  {data.gt_file}')
    print(f'  videos        {len(data.train_videos)} train, {len(data.val_videos)} test')
    print(f'  tubes         {tube_counts(data.gt_file)}')
    return data


if __name__ == '__main__':
    main()
