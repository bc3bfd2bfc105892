"""Convert an ACT-style tube ground-truth pickle (UCF101-24, JHMDB-21, MultiSports, your own) to
the files mmaction2's AVADataset reads: keyframe CSVs, exclusion lists and a label map.

    python tools/data/tubes_to_ava.py GT_PKL OUT_DIR --prefix NAME [--split 1]
        [--frame-root DIR [--filename-tmpl img_{:05}.jpg] [--start-index 1]]
        [--train-keyframe-stride 1]

Every annotated frame becomes a keyframe (timestamps are frame numbers: TubeAVADataset, or
AVADataset with fps=1); labels are written 1-based (label k of the pickle is id k + 1). With
--frame-root, every video of the split must have its frame folder there. The formats:
mmevad/datasets/tubes.py and docs/custom_dataset.md.
"""
import argparse
import sys

from mmevad.datasets.tubes import TubeAnnotationError, convert_tubes_to_ava


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Tube ground truth -> AVADataset files')
    parser.add_argument('gt_file', help='ACT-style ground-truth pickle')
    parser.add_argument('out_dir', help='where to write the CSVs and the label map')
    parser.add_argument('--prefix', required=True, help='file name prefix, e.g. jhmdb21_split1')
    parser.add_argument('--split', type=int, default=1, help='1-based split (JHMDB-21: 1-3)')
    parser.add_argument('--frame-root', help='check that each video has its frames here')
    parser.add_argument('--filename-tmpl', default='img_{:05}.jpg',
                        help='frame file name of an index (ACT frames: {:05}.jpg)')
    parser.add_argument('--start-index', type=int, default=1, help='file index of frame 1')
    parser.add_argument('--train-keyframe-stride', type=int, default=1,
                        help='keep every n-th annotated training frame (val keeps all)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        files = convert_tubes_to_ava(
            args.gt_file, args.out_dir, args.prefix, split=args.split,
            frame_root=args.frame_root, filename_tmpl=args.filename_tmpl,
            start_index=args.start_index, train_keyframe_stride=args.train_keyframe_stride)
    except TubeAnnotationError as e:
        sys.exit(f'error: {e}')
    print(f'{len(files.train_videos)} train videos -> {files.train_rows} rows: '
          f'{files.ann_file_train}')
    print(f'{len(files.val_videos)} val videos -> {files.val_rows} rows: {files.ann_file_val}')
    print(f'exclusions (empty): {files.exclude_file_train}, {files.exclude_file_val}')
    print(f'label map ({files.num_classes} classes, ids 1..{files.num_classes}): '
          f'{files.label_file}')
    return files


if __name__ == '__main__':
    main()
