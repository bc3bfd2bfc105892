"""Weight initialisers (``init_cfg`` types, as mmengine keeps its own in
``mmengine/model/weight_init.py``): the RoI head's projection and decoder blocks from VideoMAE
pre-training (docs/algorithm.md#initialization)."""
import logging
from typing import Dict, List, Mapping

import torch
from mmaction.registry import WEIGHT_INITIALIZERS
from mmdet.registry import WEIGHT_INITIALIZERS as MMDET_WEIGHT_INITIALIZERS
from mmengine.logging import print_log
from mmengine.model.weight_init import update_init_info
from mmengine.runner import CheckpointLoader
from torch import Tensor, nn

from .ckpt_convert import convert_videomae_decoder

__all__ = ['load_videomae_decoder', 'VideoMAEDecoderInit']


def load_videomae_decoder(head: nn.Module,
                          state_dict: Mapping[str, Tensor]) -> Dict[str, List[str]]:
    """Copy ``encoder_to_decoder`` and ``decoder.blocks.*`` of VideoMAE pre-training into ``head``.

    Every checkpoint key must be known to the VideoMAE rule table (unknown keys raise); keys that
    map to blocks the head does not have (the checkpoint's decoder is deeper) are skipped and
    named in a warning; parameters of the head the checkpoint does not cover (deeper CRD blocks,
    action heads, mask token) keep their values and are named in an info message.

    Args:
        head (nn.Module): a :class:`ContextRefinementRoIHead` (anything with the same names).
        state_dict (Mapping[str, Tensor]): the pre-training weights (under ``model`` / ``module``
            of the checkpoint file).

    Returns:
        dict: ``loaded``, ``skipped`` (checkpoint keys with no place in ``head``) and
        ``not_loaded`` (``head`` keys left as they were), each a list of names.

    Raises:
        KeyError: a checkpoint key matches no rule.
        ValueError: a checkpoint tensor has another shape than its place in ``head``.
    """
    converted, report = convert_videomae_decoder(state_dict)
    report.raise_for_unknown('VideoMAE pre-training checkpoint')
    own = head.state_dict()
    loaded, skipped = [], []
    with torch.no_grad():
        for key, value in converted.items():
            if key not in own:
                skipped.append(key)
                continue
            if own[key].shape != value.shape:
                raise ValueError(
                    f'checkpoint tensor {_source_key(report, key)} {tuple(value.shape)} does not '
                    f'fit {key} {tuple(own[key].shape)} of the head; the decoder width of the '
                    f'config does not match this checkpoint (ViT-B: 384, ViT-L: 512)')
            own[key].copy_(value)
            loaded.append(key)
    not_loaded = [key for key in own if key not in converted]
    if skipped:
        print_log(f'VideoMAE decoder weights without a place in the head (decoder deeper than '
                  f'the CRD?): {skipped}', logger='current', level=logging.WARNING)
    print_log(f'initialised {len(loaded)} tensors of {type(head).__name__} from the VideoMAE '
              f'decoder; left as initialised: {not_loaded}', logger='current')
    return dict(loaded=loaded, skipped=skipped, not_loaded=not_loaded)


def _source_key(report, target: str) -> str:
    """The checkpoint key that was renamed to ``target``."""
    return next((src for src, dst in report.renamed.items() if dst == target), target)


@WEIGHT_INITIALIZERS.register_module()
@MMDET_WEIGHT_INITIALIZERS.register_module()
class VideoMAEDecoderInit:
    """``init_cfg`` type that loads a VideoMAE pre-training checkpoint's decoder
    (docs/algorithm.md#initialization).

    Use as ``init_cfg=dict(type='VideoMAEDecoderInit', checkpoint=PATH_OR_URL)`` on a
    :class:`ContextRefinementRoIHead`; the head applies it after its default initialisation.

    Args:
        checkpoint (str): path or URL of the pre-training checkpoint.
        map_location (str): where to load it. Defaults to ``'cpu'``.
    """

    def __init__(self, checkpoint: str, map_location: str = 'cpu') -> None:
        self.checkpoint = checkpoint
        self.map_location = map_location

    def __call__(self, module: nn.Module) -> None:
        ckpt = CheckpointLoader.load_checkpoint(
            self.checkpoint, map_location=self.map_location, logger='current')
        for wrapper in ('model', 'module', 'state_dict'):
            if isinstance(ckpt, dict) and wrapper in ckpt:
                ckpt = ckpt[wrapper]
                break
        load_videomae_decoder(module, ckpt)
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=self._get_init_info())

    def _get_init_info(self) -> str:
        return f'{self.__class__.__name__}: load the VideoMAE decoder from {self.checkpoint}'
