"""Draw one test keyframe of a dataset: its detections and its kept-token view.

    python tools/analysis_tools/visualize_keyframe.py CONFIG CHECKPOINT --out-dir DIR
        [--index N | --img-key VIDEO,TIMESTAMP] [--score-thr 0.5] [--no-gt]
        [--min-short-side 360] [--tile-height 240] [--device cuda:0|cpu] [--cfg-options k=v ...]

Writes ``DIR/<video>_<timestamp>_detections.png`` (the raw keyframe; ground truth left,
predictions right, see ``EVADLocalVisualizer``; small frames are enlarged to
``--min-short-side`` first so that the labels stay legible) and
``DIR/<video>_<timestamp>_kept_tokens.png`` (which non-keyframe tokens of the clip survive
each pruning block, drawn over the resized frames the backbone saw; see
``mmevad.visualization.draw_kept_tokens``). One forward pass of the model through
``test_step``, as in tools/test.py.
"""
import argparse
import os
import os.path as osp

import mmcv
import numpy as np
import torch
from mmengine.config import DictAction
from mmengine.dataset import pseudo_collate

import mmevad  # noqa: F401  (registers mmdet / mmaction / mmevad modules)
from mmaction.registry import DATASETS, MODELS
from mmevad.engine.hooks import ava_class_names, load_keyframe
from mmevad.structures import TokenPruningOutput
from mmevad.utils import (checkpoint_from_args, device_from_args, load_checkpoint_strictly,
                          load_config)
from mmevad.visualization import EVADLocalVisualizer, draw_kept_tokens, pruning_stage_masks


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='an EVAD config')
    parser.add_argument('checkpoint', help='its checkpoint')
    parser.add_argument('--out-dir', required=True, help='where the two PNGs go')
    which = parser.add_mutually_exclusive_group()
    which.add_argument('--index', type=int, default=0, help='sample of the test dataset')
    which.add_argument('--img-key', help="sample by its AVA key 'video_id,timestamp'")
    parser.add_argument('--score-thr', type=float, default=0.5,
                        help='smallest action score drawn')
    parser.add_argument('--no-gt', action='store_true', help='draw the predictions only')
    parser.add_argument('--min-short-side', type=int, default=360,
                        help='enlarge smaller keyframes to this short side before drawing '
                        '(0: never)')
    parser.add_argument('--tile-height', type=int, default=240,
                        help='height of each frame of the kept-token view')
    parser.add_argument('--device', help='e.g. cuda:0 or cpu; default: cuda:0 if a GPU is '
                        'visible, else cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    return parser.parse_args()


def sample_index(dataset, args) -> int:
    if args.img_key is None:
        if not 0 <= args.index < len(dataset):
            raise SystemExit(f'--index {args.index} is outside the {len(dataset)} samples')
        return args.index
    for index in range(len(dataset)):
        if dataset.get_data_info(index)['img_key'] == args.img_key:
            return index
    raise SystemExit(f'--img-key {args.img_key} is not a sample of the test dataset')


def main():
    args = parse_args()
    device = device_from_args(args.device)
    checkpoint_from_args(args.checkpoint)
    cfg = load_config(args.config, args.cfg_options)
    model = MODELS.build(cfg.model)
    # a checkpoint of another model stops with the keys and the likely cause
    load_checkpoint_strictly(model, args.checkpoint, map_location='cpu')
    # the data preprocessor follows the model; the drawings read their tensors back to the CPU
    model.to(device).eval()
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    index = sample_index(dataset, args)
    batch = pseudo_collate([dataset[index]])

    # the backbone's output of the same forward pass, for the kept-token view
    captured = {}
    handle = model.backbone.register_forward_hook(
        lambda module, inputs, output: captured.update(output=output))
    with torch.no_grad():
        (data_sample, ) = model.test_step(batch)
    handle.remove()
    output = captured['output']
    if not isinstance(output, TokenPruningOutput):
        raise SystemExit(f'the backbone returned a {type(output).__name__}; the kept-token '
                         f'view needs TokenPruningViT with out_type="evad"')

    img_key = data_sample.metainfo['img_key']
    name = img_key.replace(',', '_')
    os.makedirs(args.out_dir, exist_ok=True)

    visualizer = EVADLocalVisualizer.get_instance('visualize_keyframe')
    classes = ava_class_names(dataset)
    if classes is not None:
        visualizer.dataset_meta = dict(classes=classes)
    detections = osp.join(args.out_dir, f'{name}_detections.png')
    keyframe = load_keyframe(dataset, index)
    short_side = min(keyframe.shape[:2])
    if short_side < args.min_short_side:
        # boxes follow: predictions are in [0, 1], ground truth is rescaled from img_shape
        keyframe = mmcv.imrescale(keyframe, args.min_short_side / short_side,
                                  interpolation='bicubic')
    visualizer.add_datasample(name, keyframe, data_sample,
                              draw_gt=not args.no_gt, out_file=detections,
                              pred_score_thr=args.score_thr)

    # the clip as the backbone saw it: resized, before normalisation, (C, T, H, W)
    clip = batch['inputs'][0].reshape(-1, *batch['inputs'][0].shape[-4:])[0]
    frames = clip.permute(1, 2, 3, 0).clamp(0, 255).to(torch.uint8).numpy()
    blocks, masks = pruning_stage_masks(output)
    if not blocks:
        raise SystemExit('no block of this backbone prunes (all keep rates are 1)')
    rates = model.backbone.keep_rates
    view = draw_kept_tokens(
        frames, masks, output.grid, patch_size=model.backbone.patch_size,
        row_labels=[f'after block {b} (keep rate {rates[b]:g})' for b in blocks],
        tile_height=args.tile_height, title=f'{img_key}: kept tokens')
    kept_tokens = osp.join(args.out_dir, f'{name}_kept_tokens.png')
    mmcv.imwrite(np.ascontiguousarray(view[..., ::-1]), kept_tokens)
    print(f'wrote {detections} and {kept_tokens}')


if __name__ == '__main__':
    main()
