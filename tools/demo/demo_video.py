"""Run EVAD on a video file, a camera or a stream: an mp4 with every person's box and top actions,
and the predictions as JSON. EVAD finds the persons itself: no person detector is involved.

    python tools/demo/demo_video.py CONFIG CHECKPOINT INPUT OUTPUT.mp4 \\
        [--keyframe-interval 1] [--action-thr 0.5] [--person-thr 0.7] [--label-map FILE] \\
        [--show-kept-tokens] [--device cuda:0]

INPUT is a video file, a camera index (``0``) or a stream URL (``rtsp://...``, ``http://...``).
A camera or stream is read live: frames wait in a bounded buffer until the keyframe they show
is detected (about ``keyframe interval / 2`` plus the clip's second half), then are written
(and displayed with ``--show``); stop with ``--max-frames`` or Ctrl+C. Each frame shows the
detections of the keyframe of its interval, so boxes are held between keyframes.
"""
import argparse
import os.path as osp
import sys

from mmengine.config import DictAction

# the demo runs from a source checkout without installing mmevad
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmevad.apis import EVADInferencer  # noqa: E402
from mmevad.utils import checkpoint_from_args, device_from_args  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='EVAD demo: actors and their actions in a video, camera or stream',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('config', help='EVAD config file (configs/evad/*.py)')
    parser.add_argument('checkpoint', help='trained EVAD checkpoint (loaded strictly)')
    parser.add_argument('input', help='video file, camera index (0) or stream URL')
    parser.add_argument('output', help='output .mp4 (the JSON goes next to it, see --out-json)')
    parser.add_argument('--out-json', help='predictions file; default: OUTPUT with .json')
    parser.add_argument('--label-map', help="action names: 'ava_v2.2' or a .pbtxt / 'id: name' "
                        "file; default: the config's label_map (AVA v2.2)")
    parser.add_argument('--keyframe-interval', type=float, default=1.0,
                        help='seconds between keyframes (AVA annotates one per second)')
    parser.add_argument('--action-thr', type=float, default=0.5,
                        help='smallest action score drawn and saved')
    parser.add_argument('--person-thr', type=float, default=None,
                        help="person score threshold; default: the config's person_score_thr")
    parser.add_argument('--max-labels', type=int, default=3, help='actions drawn per person')
    parser.add_argument('--batch-size', type=int, default=None,
                        help='keyframe clips per forward pass; default 4 for files, 1 live')
    parser.add_argument('--show-kept-tokens', action='store_true',
                        help='also save each keyframe\'s kept-token view (which non-keyframe '
                        'tokens survived pruning) as PNGs in OUTPUT_kept_tokens/')
    parser.add_argument('--show', action='store_true', help='display the frames while running')
    parser.add_argument('--max-frames', type=int, default=None, help='stop after N frames')
    parser.add_argument('--fps', type=float, default=None,
                        help='frame rate to assume when the input reports none')
    parser.add_argument('--device', default=None,
                        help='cpu, cuda, cuda:1, ...; default: a GPU if there is one')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='config overrides, key=value')
    return parser.parse_args(argv)


def is_live(source: str) -> bool:
    return source.isdigit() or '://' in source and not source.startswith(('http://',
                                                                          'https://'))


def main(argv=None):
    args = parse_args(argv)
    from mmengine.config import Config
    device_from_args(args.device)  # a GPU that is not there stops here, with the fix
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    checkpoint_from_args(args.checkpoint)
    live = is_live(args.input)
    if not live and '://' not in args.input and not osp.isfile(args.input):
        sys.exit(f'input {args.input!r} is neither a video file, a camera index nor a URL')
    stem = osp.splitext(args.output)[0]
    out_json = args.out_json or stem + '.json'
    batch_size = args.batch_size or (1 if live else 4)

    inferencer = EVADInferencer(cfg, args.checkpoint, device=args.device,
                                label_map=args.label_map)
    source = int(args.input) if args.input.isdigit() else args.input
    result = inferencer(
        source,
        out_video=args.output,
        out_json=out_json,
        keyframe_interval_s=args.keyframe_interval,
        batch_size=batch_size,
        action_thr=args.action_thr,
        person_thr=args.person_thr,
        max_labels=args.max_labels,
        kept_tokens_dir=stem + '_kept_tokens' if args.show_kept_tokens else None,
        show=args.show,
        fps=args.fps,
        max_frames=args.max_frames)
    seconds = result['seconds']
    print(f"{result['num_keyframes']} keyframes, {result['num_frames']} frames in "
          f"{seconds:.1f} s: {result['num_keyframes'] / seconds:.2f} keyframes/s, "
          f"{result['num_frames'] / seconds:.1f} frames/s (detection, drawing and writing; "
          f"device {next(inferencer.model.parameters()).device})")
    print(f'video: {args.output}\npredictions: {out_json}')
    if args.show_kept_tokens:
        print(f'kept-token views: {stem}_kept_tokens/')


if __name__ == '__main__':
    main()
