"""Convert an original VideoMAE / VideoMAE V2 checkpoint into mmevad TokenPruningViT weights.

    python tools/model_converters/videomae_to_mmevad.py SRC DST [--verify CONFIG]

The output holds ``state_dict`` (``backbone.``-prefixed keys: a detector config loads it with
``init_cfg=dict(type='Pretrained', checkpoint=DST)``), ``meta`` (source file and conversion
summary) and, for pre-training checkpoints, ``videomae_decoder`` (the MAE decoder weights under
their original names, for the context refinement decoder). Key maps:
``mmevad/models/utils/ckpt_convert/videomae.py``. ``--verify`` builds the backbone of CONFIG and
loads the converted weights into it, failing on any unexpected key, shape mismatch or missing key
other than the final norm of a fine-tuned checkpoint (its ``fc_norm`` is dropped,
docs/algorithm.md#initialization).
"""
import argparse
import os.path as osp

import torch
from mmengine.config import DictAction

import mmevad  # noqa: F401  (compat fixes, registers the modules)
from mmevad.models.utils.ckpt_convert import (VIDEOMAE_DECODER_KEY, convert_videomae,
                                              load_source_checkpoint)
from mmevad.utils import load_config


def parse_args():
    parser = argparse.ArgumentParser(
        description='Convert a VideoMAE / VideoMAE V2 checkpoint for TokenPruningViT')
    parser.add_argument('src', help='original checkpoint (.pth)')
    parser.add_argument('dst', help='output path')
    parser.add_argument(
        '--verify', metavar='CONFIG', help='load the result into the backbone of this config')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='override settings of CONFIG')
    return parser.parse_args()


def verify(config: str, cfg_options, conversion) -> None:
    """Load the converted weights into the config's backbone; raise on anything unexpected."""
    cfg = load_config(config, cfg_options)
    from mmaction.registry import MODELS
    backbone = MODELS.build(cfg.model.backbone if 'backbone' in cfg.model else cfg.model)
    prefix = 'backbone.'
    state = {key[len(prefix):]: value for key, value in conversion.state_dict.items()}
    result = backbone.load_state_dict(state, strict=False)
    dropped_fc_norm = any(key.startswith('fc_norm.') for key in conversion.report.dropped)
    allowed = {'norm.weight', 'norm.bias'} if dropped_fc_norm else set()
    missing = [key for key in result.missing_keys if key not in allowed]
    if result.unexpected_keys or missing:
        raise KeyError(f'the converted weights do not fit the backbone of {config}: '
                       f'unexpected {result.unexpected_keys}, missing {missing}')
    print(f'verified against {config}: every backbone weight loaded'
          + (' except norm.* (starts at 1/0, fine-tuned source)' if allowed else ''))


def main():
    args = parse_args()
    conversion = convert_videomae(load_source_checkpoint(args.src))
    report = conversion.report
    print(f'{osp.basename(args.src)}: {report.summary()}')
    for key, rule in report.dropped.items():
        print(f'  dropped {key}  (rule {rule})')
    if conversion.missing:
        print(f'  missing backbone keys: {", ".join(conversion.missing)}')
    if conversion.decoder_state_dict:
        print(f'  kept {len(conversion.decoder_state_dict)} MAE decoder entries under '
              f'"{VIDEOMAE_DECODER_KEY}"')
    if args.verify:
        verify(args.verify, args.cfg_options, conversion)

    checkpoint = dict(
        state_dict=conversion.state_dict,
        meta=dict(source=osp.abspath(args.src), converter='videomae_to_mmevad',
                  summary=report.summary(), dropped=sorted(report.dropped),
                  missing=conversion.missing))
    if conversion.decoder_state_dict:
        checkpoint[VIDEOMAE_DECODER_KEY] = conversion.decoder_state_dict
    torch.save(checkpoint, args.dst)
    print(f'saved {args.dst}')


if __name__ == '__main__':
    main()
