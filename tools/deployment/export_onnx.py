"""Export an EVAD checkpoint to ONNX and check it against PyTorch with onnxruntime.

    python tools/deployment/export_onnx.py CONFIG CHECKPOINT OUT.onnx [--shape T H W]
        [--batch-size B] [--opset 18] [--verify] [--stages] [--cfg-options k=v ...]

The exported graph takes ``inputs``, normalised clips zero-padded to a multiple of 32
(``(B, 3, T, H, W)``, what ``EVADDataPreprocessor`` gives) and returns, for every proposal,
``bboxes`` (pixel xyxy), ``person_scores``, ``action_scores`` (column 0 unused) and
``kept_index`` (the kept non-keyframe tokens). The person selection (``EVAD.select_detections``)
runs outside the graph. The shape is fixed per export (the pruning blocks keep a number of
tokens that follows from the input size); ``--shape`` defaults to the config's clip length and
288 x 288. ``--verify`` runs the file with onnxruntime (``pip install "mmevad[deploy]"``) on a
random clip and compares it with PyTorch. ``--stages`` (a debugging export) adds the backbone's
last keyframe map, the FPN maps and every localization stage's logits and unclipped boxes as
outputs, and ``--verify`` then reports the difference at each of them. See
mmevad/deployment/onnx_export.py.
"""
import argparse
import os.path as osp

import numpy as np
import torch
from mmengine.config import Config, DictAction

import mmevad  # noqa: F401  (compat fixes, registers the modules)
from mmevad.deployment import EVADTensorOutputs, export_onnx, onnx_outputs, stage_names
from mmevad.deployment.onnx_export import OUTPUT_NAMES


def parse_args():
    parser = argparse.ArgumentParser(description='Export an EVAD detector to ONNX')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help="checkpoint file, or 'none' for initialised weights")
    parser.add_argument('out_file', help='the .onnx file to write')
    parser.add_argument('--shape', type=int, nargs=3, metavar=('T', 'H', 'W'),
                        help='clip length and padded height / width (multiples of 32); '
                        "default: the config's clip length and 288 288")
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--opset', type=int, default=18)
    parser.add_argument('--verify', action='store_true',
                        help='compare onnxruntime with PyTorch on a random clip')
    parser.add_argument('--stages', action='store_true',
                        help='debugging export: add intermediate outputs (backbone, FPN, every '
                        'localization stage); --verify reports each one')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    return parser.parse_args()


def verify(detector, onnx_file: str, shape, with_stages: bool = False) -> dict:
    """Largest absolute differences between onnxruntime and PyTorch on one random clip, per
    output (with ``with_stages``, the intermediate ones too), and whether the same tokens were
    kept."""
    clip = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = EVADTensorOutputs(detector, with_stages=with_stages)(clip)
    got = onnx_outputs(onnx_file, clip.numpy())
    names = list(OUTPUT_NAMES)
    if with_stages:
        names += stage_names(len(detector.localization_head.bbox_head))
    report = {name: float(np.abs(got[name] - ref.numpy()).max())
              for name, ref in zip(names, expected) if name != 'kept_index'}
    report['same_kept_tokens'] = bool(
        np.array_equal(np.sort(got['kept_index'], -1), np.sort(expected[3].numpy(), -1)))
    return report


def main():
    args = parse_args()
    from mmevad.apis import init_detector
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    detector = init_detector(cfg, checkpoint, device='cpu')
    frames = cfg.model.backbone.get('num_frames', 16)
    frames, height, width = args.shape or (frames, 288, 288)
    if height % 32 or width % 32:
        raise SystemExit(f'--shape: height and width are padded sizes and must be multiples of '
                         f'32 (the largest feature stride), got {height} x {width}')
    shape = (args.batch_size, 3, frames, height, width)
    export_onnx(detector, args.out_file, shape, opset_version=args.opset, with_stages=args.stages)
    print(f'wrote {args.out_file} ({osp.getsize(args.out_file) / 2**20:.1f} MiB) for inputs '
          f'{shape}')
    if args.verify:
        report = verify(detector, args.out_file, shape, args.stages)
        print('onnxruntime vs PyTorch, largest absolute differences: ' +
              ', '.join(f'{k} {v:.2e}' for k, v in report.items() if k != 'same_kept_tokens') +
              f"; same kept tokens: {report['same_kept_tokens']}")


if __name__ == '__main__':
    main()
