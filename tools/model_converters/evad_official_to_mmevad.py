"""Convert a released EVAD checkpoint (MCG-NJU/EVAD) into an mmevad EVAD checkpoint.

    python tools/model_converters/evad_official_to_mmevad.py SRC DST [--verify CONFIG]
        [--cfg-options k=v ...]

The output holds ``state_dict`` (EVAD detector keys: ``backbone.*``, ``neck.*``,
``localization_head.*``, ``roi_head.*``) and ``meta``; ``tools/test.py CONFIG DST`` loads it. Key
maps: ``mmevad/models/utils/ckpt_convert/official_evad.py``;
a key no rule knows, or an official key the file lacks, stops the conversion naming it.
``--verify CONFIG`` builds the model of CONFIG (the matching released config, e.g.
``configs/evad/evad_vit-base-p16-ktp0.7_videomae-k400-pre_8xb2-16x4x1-12e_ava22-rgb.py`` for
``ViT_B_16x4_KTP``) and loads the converted weights with ``strict=True``, naming any missing or
unexpected key and any shape mismatch.
"""
import argparse
import os.path as osp

import torch
from mmengine.config import DictAction

import mmevad  # noqa: F401  (compat fixes, registers the modules)
from mmevad.models.utils.ckpt_convert import (convert_official_evad, load_converted_strictly,
                                              load_source_checkpoint)
from mmevad.utils import load_config


def parse_args():
    parser = argparse.ArgumentParser(
        description='Convert an official EVAD checkpoint into an mmevad EVAD checkpoint')
    parser.add_argument('src', help='official checkpoint (.pth, weights under "model_state")')
    parser.add_argument('dst', help='output path')
    parser.add_argument(
        '--verify', metavar='CONFIG', help='load the result strictly into the model of CONFIG')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='override settings of CONFIG')
    return parser.parse_args()


def verify(config: str, cfg_options, state_dict) -> None:
    """Build the model of ``config`` and load ``state_dict`` into it with ``strict=True``."""
    cfg = load_config(config, cfg_options)
    from mmaction.registry import MODELS
    model = MODELS.build(cfg.model)
    load_converted_strictly(model, state_dict, source=f'the conversion for {config}')
    print(f'verified against {config}: all {len(state_dict)} entries loaded with strict=True')


def main():
    args = parse_args()
    state_dict, report = convert_official_evad(load_source_checkpoint(args.src))
    print(f'{osp.basename(args.src)}: {report.summary()}')
    for key, rule in report.dropped.items():
        print(f'  dropped {key}  (rule {rule})')
    if args.verify:
        verify(args.verify, args.cfg_options, state_dict)
    torch.save(
        dict(
            state_dict=state_dict,
            meta=dict(source=osp.abspath(args.src), converter='evad_official_to_mmevad',
                      summary=report.summary(), dropped=sorted(report.dropped),
                      verified_with=args.verify)), args.dst)
    print(f'saved {args.dst}')


if __name__ == '__main__':
    main()
