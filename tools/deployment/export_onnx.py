"""Export an EVAD checkpoint to ONNX and check it against PyTorch with onnxruntime.

    python tools/deployment/export_onnx.py CONFIG CHECKPOINT OUT.onnx [--shape T H W]
        [--batch-size B] [--opset 18] [--verify] [--stages] [--teacher-forced]
        [--box-delta-scale S]
        [--seed 0] [--cfg-options k=v ...]

The exported graph takes ``inputs``, normalised clips zero-padded to a multiple of 32
(``(B, 3, T, H, W)``, what ``EVADDataPreprocessor`` gives) and returns, for every proposal,
``bboxes`` (pixel xyxy), ``person_scores``, ``action_scores`` (column 0 unused) and
``kept_index`` (the kept non-keyframe tokens). The person selection (``EVAD.select_detections``)
runs outside the graph. The shape is fixed per export (the pruning blocks keep a number of
tokens that follows from the input size); ``--shape`` defaults to the config's clip length and
288 x 288. ``--verify`` runs the file with onnxruntime (``pip install "mmevad[deploy]"``) on a
random clip and compares it with PyTorch. ``--stages`` (a debugging export) adds the backbone's
last keyframe map, the FPN maps and every localization stage's logits and unclipped boxes as
outputs, and ``--verify`` then reports the difference at each of them; ``--teacher-forced``
checks every stage on its own (mmevad/deployment/stage_check.py). ``--box-delta-scale``
checks an export without a trained checkpoint on box deltas of a trained model's size. See
mmevad/deployment/onnx_export.py and the README's "Export to ONNX".
"""
import argparse
import copy
import os.path as osp

import numpy as np
import torch
from mmengine.config import Config, DictAction

import mmevad  # noqa: F401  (compat fixes, registers the modules)
from mmevad.deployment import EVADTensorOutputs, export_onnx, onnx_outputs, stage_names
from mmevad.deployment.onnx_export import OUTPUT_NAMES
from mmevad.deployment.stage_check import parity_tolerance, teacher_forced_errors
from mmevad.utils import checkpoint_from_args


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
    parser.add_argument('--teacher-forced', action='store_true',
                        help='with --verify: also export every localization stage and the '
                        'action head alone, feed each the inputs of a float64 run and report '
                        'its own difference from float64 in onnxruntime and in PyTorch float32')
    parser.add_argument('--box-delta-scale', type=float, default=1.0,
                        help="with checkpoint 'none': multiply the last box layer of every "
                        'localization stage by this factor (e.g. 0.1), so that the initialised '
                        'heads predict box deltas of the size a trained model does instead of '
                        'boxes far outside the frame, whose refinement amplifies float32 '
                        'rounding (README, "Export to ONNX")')
    parser.add_argument('--seed', type=int, default=0,
                        help="random seed of the initialised weights (checkpoint 'none')")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    return parser.parse_args()


def scale_box_deltas(detector, scale: float) -> None:
    """Multiply the box-delta layer (``fc_reg``) of every localization stage by ``scale``.

    The initial weights predict deltas of about unit size at every stage, which sends most boxes
    hundreds to thousands of pixels outside the frame; a trained model's boxes stay on it and
    its later stages refine them by little. Scaling the initialised layer gives such boxes
    without a checkpoint.
    """
    for head in detector.localization_head.bbox_head:
        head.fc_reg.weight.data.mul_(scale)
        head.fc_reg.bias.data.mul_(scale)


def verify(detector, onnx_file: str, shape, with_stages: bool = False) -> dict:
    """onnxruntime against PyTorch on one random clip.

    Next to the difference between onnxruntime and PyTorch (both float32), PyTorch in float64
    gives the float32 rounding noise of the model itself: the difference between PyTorch's
    float32 and float64 outputs. An untrained detector can amplify that noise far beyond 1e-4
    over its refinement stages; an export that computes the same function then differs from
    PyTorch by about as much as PyTorch's own float32 result does from the float64 one
    (README, "Export to ONNX").

    Returns:
        dict: per output name (with ``with_stages`` the intermediate ones too) a dict with
        ``onnx`` (largest absolute difference onnxruntime - PyTorch), ``float32`` (largest
        absolute difference PyTorch float32 - float64) and ``tolerance``; and
        ``same_kept_tokens`` (bool).
    """
    clip = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = EVADTensorOutputs(detector, with_stages=with_stages)(clip)
        exact = EVADTensorOutputs(copy.deepcopy(detector).double(),
                                  with_stages=with_stages)(clip.double())
    got = onnx_outputs(onnx_file, clip.numpy())
    names = list(OUTPUT_NAMES)
    if with_stages:
        names += stage_names(len(detector.localization_head.bbox_head))
    report = {}
    for name, ref, ref64 in zip(names, expected, exact):
        if name == 'kept_index':
            continue
        ref, ref64 = ref.numpy(), ref64.numpy()
        report[name] = dict(onnx=float(np.abs(got[name] - ref).max()),
                            float32=float(np.abs(ref.astype(np.float64) - ref64).max()),
                            tolerance=parity_tolerance(name, ref64, max(shape[-2:])))
    report['same_kept_tokens'] = bool(
        np.array_equal(np.sort(got['kept_index'], -1), np.sort(expected[3].numpy(), -1)))
    return report


def print_table(report: dict, onnx_header: str, float32_header: str) -> None:
    """One row per output: the onnxruntime and the float32 differences, the tolerance and
    whether the onnxruntime difference is within it."""
    print(f"{'output':<18}{onnx_header:>23}{float32_header:>21}{'tolerance':>11}  within")
    for name, row in report.items():
        within = 'yes' if row['onnx'] <= row['tolerance'] else 'NO'
        print(f"{name:<18}{row['onnx']:>23.3e}{row['float32']:>21.3e}"
              f"{row['tolerance']:>11.1e}  {within}")


def main():
    args = parse_args()
    from mmevad.apis import init_detector
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    if args.box_delta_scale != 1 and checkpoint is not None:
        raise SystemExit('--box-delta-scale changes initialised weights; it needs checkpoint '
                         "'none' (a trained checkpoint predicts deltas of its own size)")
    if checkpoint is not None:
        checkpoint_from_args(checkpoint)
    torch.manual_seed(args.seed)
    detector = init_detector(cfg, checkpoint, device='cpu')
    if args.box_delta_scale != 1:
        scale_box_deltas(detector, args.box_delta_scale)
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
        print(f"same kept tokens: {report.pop('same_kept_tokens')}\n"
              'largest absolute differences (PyTorch float32 - float64: the rounding noise of '
              'the model itself)')
        print_table(report, 'onnxruntime - PyTorch', 'PyTorch fp32 - fp64')
        if args.teacher_forced:
            clip = torch.randn(shape, generator=torch.Generator().manual_seed(0))
            print("each part alone, fed the float64 run's inputs in float32: largest absolute "
                  'differences from its float64 output')
            print_table(teacher_forced_errors(detector, clip), 'onnxruntime - fp64',
                        'PyTorch fp32 - fp64')


if __name__ == '__main__':
    main()
