"""Strict checkpoint loading with an error that says what does not fit and why.

mmengine's ``Runner`` loads ``load_from`` with ``strict=False``: a checkpoint of another model
size, another ``num_classes`` or an unconverted official file loads "successfully" (one warning
among hundreds of log lines) and the model evaluates with random weights where keys were missing.
For evaluation and inference every weight must come from the file, so these helpers compare the
checkpoint's state dict with the model's before loading and raise :class:`CheckpointMismatchError`
naming the missing, unexpected and mis-shaped keys and the likely cause.
"""
import re
from collections import OrderedDict
from typing import (Callable, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple,
                    Union)

import torch
from mmengine.model import is_model_wrapper
from mmengine.runner.checkpoint import _load_checkpoint, load_state_dict
from torch import nn

__all__ = [
    'CheckpointMismatchError', 'StateDictMismatch', 'check_state_dict_fits',
    'find_state_dict_mismatch', 'load_checkpoint_strictly', 'weights_of_checkpoint'
]

# mmengine's default: weights saved from a DDP-wrapped model carry a 'module.' prefix
DEFAULT_REVISE_KEYS = ((r'^module\.', ''), )
# names listed per kind of mismatch before "... and N more"
MAX_NAMES = 8


class CheckpointMismatchError(RuntimeError):
    """The checkpoint's weights do not fit the model built from the config."""


class StateDictMismatch(NamedTuple):
    """How a state dict differs from a model's.

    Attributes:
        missing (list[str]): keys the model has and the checkpoint lacks.
        unexpected (list[str]): keys the checkpoint has and the model does not know.
        mis_shaped (list[tuple]): ``(key, checkpoint shape, model shape)`` of common keys whose
            shapes differ.
    """
    missing: List[str]
    unexpected: List[str]
    mis_shaped: List[Tuple[str, Tuple[int, ...], Tuple[int, ...]]]

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.mis_shaped)


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if is_model_wrapper(model) else model


def weights_of_checkpoint(checkpoint: Mapping,
                          revise_keys: Sequence[Tuple[str, str]] = DEFAULT_REVISE_KEYS
                          ) -> 'OrderedDict[str, torch.Tensor]':
    """The model weights of a loaded checkpoint (under ``'state_dict'`` for mmengine files, else
    the mapping itself), keys revised as mmengine's loader does (``module.`` prefix stripped)."""
    state_dict = checkpoint.get('state_dict', checkpoint)
    metadata = getattr(state_dict, '_metadata', OrderedDict())
    revised = OrderedDict()
    for key, value in state_dict.items():
        for pattern, replacement in revise_keys:
            key = re.sub(pattern, replacement, key)
        revised[key] = value
    revised._metadata = metadata  # torch's per-module version info, used by _load_from_state_dict
    return revised


def find_state_dict_mismatch(model: nn.Module, state_dict: Mapping) -> StateDictMismatch:
    """Compare ``state_dict`` with ``model.state_dict()`` (keys and shapes).

    BatchNorm ``num_batches_tracked`` counters are not required (mmengine does not require them
    either); non-tensor entries are compared by key only.
    """
    expected = _unwrap(model).state_dict()
    missing = [key for key in expected
               if key not in state_dict and not key.endswith('num_batches_tracked')]
    unexpected = [key for key in state_dict if key not in expected]
    mis_shaped = []
    for key, value in state_dict.items():
        if key in expected and hasattr(value, 'shape') and hasattr(expected[key], 'shape'):
            if tuple(value.shape) != tuple(expected[key].shape):
                mis_shaped.append((key, tuple(value.shape), tuple(expected[key].shape)))
    return StateDictMismatch(missing, unexpected, mis_shaped)


def _names(keys: Sequence[str], limit: int = MAX_NAMES) -> str:
    """The first ``limit`` names; for longer lists also the count per module (the first three
    name components), which usually shows the cause (e.g. a whole stage missing)."""
    if len(keys) <= limit:
        return ', '.join(keys)
    groups: Dict[str, int] = OrderedDict()
    for key in keys:
        group = '.'.join(key.split('.')[:3])
        groups[group] = groups.get(group, 0) + 1
    by_module = ', '.join(f'{group}.* ({count})' for group, count in list(groups.items())[:limit])
    more_groups = f', ... {len(groups) - limit} more modules' if len(groups) > limit else ''
    return (', '.join(keys[:limit]) + f', ... and {len(keys) - limit} more; by module: '
            + by_module + more_groups)


def _classifier_owner(model: nn.Module, key: str) -> Optional[Tuple[str, int]]:
    """``(module name, num_classes)`` of the deepest module with a ``num_classes`` attribute
    that owns parameter ``key``, or None."""
    best = None
    for name, module in _unwrap(model).named_modules():
        if isinstance(getattr(module, 'num_classes', None), int) and (
                not name or key.startswith(name + '.')):
            if best is None or len(name) > len(best[0]):
                best = (name, module.num_classes)
    return best


def _looks_official(checkpoint: Mapping, state_dict: Mapping) -> Optional[str]:
    """A hint when the file is an unconverted official EVAD or VideoMAE checkpoint."""
    keys = list(state_dict)
    if 'model_state' in checkpoint or any(k.startswith(('det_head.', 'fpn_lateral')) for k in keys):
        return ('it looks like an official EVAD checkpoint (keys "model_state" / "det_head.*"): '
                'convert it first with tools/model_converters/evad_official_to_mmevad.py SRC DST '
                '--verify CONFIG')
    if any(k in checkpoint for k in ('model', 'module')) or any(
            re.match(r'(encoder\.)?(blocks\.\d+\.|patch_embed\.proj\.)', k) for k in keys):
        return ('it looks like an original VideoMAE checkpoint (keys "blocks.*" / '
                '"patch_embed.proj.*"): it holds pre-trained backbone weights, not a detector; '
                'convert it with tools/model_converters/videomae_to_mmevad.py and use it as the '
                'backbone\'s init_cfg for training')
    return None


def _likely_cause(model: nn.Module, checkpoint: Mapping, state_dict: Mapping,
                  mismatch: StateDictMismatch) -> str:
    official = _looks_official(checkpoint, state_dict)
    if official:
        return official
    causes = []
    for key, ckpt_shape, model_shape in mismatch.mis_shaped:
        owner = _classifier_owner(model, key)
        if (owner is not None and len(ckpt_shape) == len(model_shape) and ckpt_shape[1:] ==
                model_shape[1:] and ckpt_shape[0] != model_shape[0]):
            name, num_classes = owner
            causes.append(
                f'the number of classes differs: {key} has {ckpt_shape[0]} outputs in the '
                f'checkpoint and {model_shape[0]} in the model ({name or "model"}.num_classes='
                f'{num_classes}); set num_classes in the config to the value the checkpoint was '
                f'trained with (and the evaluator\'s num_classes to match)')
            break
    trained_keys = [k for k in state_dict if not k.startswith('backbone.')]
    if state_dict and not trained_keys and mismatch.missing:
        causes.append('the checkpoint holds only backbone weights (a converted pre-trained '
                      'backbone, e.g. from tools/model_converters/videomae_to_mmevad.py): use it '
                      'as init_cfg / load_from for training, not to evaluate a detector')
    if not causes:
        causes.append('the config does not match the one this checkpoint was trained with '
                      '(another model size: depth, width, number of queries or stages, patch '
                      'size, num_classes), or the file is an unconverted official checkpoint '
                      '(see tools/model_converters/)')
    return '; '.join(causes)


def describe_mismatch(model: nn.Module, checkpoint: Mapping, state_dict: Mapping,
                      mismatch: StateDictMismatch, source: str,
                      hint: Optional[str] = None) -> str:
    """The message of :class:`CheckpointMismatchError`."""
    lines = [f'the checkpoint {source} does not fit the model built from the config:']
    if mismatch.missing:
        lines.append(f'  {len(mismatch.missing)} missing key(s) (in the model, not in the '
                     f'checkpoint): {_names(mismatch.missing)}')
    if mismatch.unexpected:
        lines.append(f'  {len(mismatch.unexpected)} unexpected key(s) (in the checkpoint, not '
                     f'in the model): {_names(mismatch.unexpected)}')
    if mismatch.mis_shaped:
        shapes = [f'{key} checkpoint {list(c)} vs model {list(m)}'
                  for key, c, m in mismatch.mis_shaped[:4]]
        more = len(mismatch.mis_shaped) - len(shapes)
        lines.append(f'  {len(mismatch.mis_shaped)} shape mismatch(es): ' + ', '.join(shapes)
                     + (f', ... and {more} more' if more else ''))
    lines.append('Likely cause: ' + _likely_cause(model, checkpoint, state_dict, mismatch) + '.')
    if hint:
        lines.append(hint)
    return '\n'.join(lines)


def check_state_dict_fits(model: nn.Module,
                          checkpoint: Mapping,
                          source: str = '',
                          hint: Optional[str] = None,
                          revise_keys: Sequence[Tuple[str, str]] = DEFAULT_REVISE_KEYS) -> None:
    """Raise :class:`CheckpointMismatchError` unless every weight of ``model`` is in the loaded
    ``checkpoint`` with its shape and the checkpoint has no other weights.

    Args:
        model (nn.Module): the model (a wrapper such as DDP is unwrapped).
        checkpoint (Mapping): the loaded file (weights under ``'state_dict'``) or a state dict.
        source (str): what the checkpoint is (e.g. its path), for the message.
        hint (str, optional): a last line for the message, e.g. how to opt out.
        revise_keys: ``(pattern, replacement)`` applied to the keys first, as mmengine does.
    """
    state_dict = weights_of_checkpoint(checkpoint, revise_keys)
    mismatch = find_state_dict_mismatch(model, state_dict)
    if mismatch:
        raise CheckpointMismatchError(
            describe_mismatch(model, checkpoint, state_dict, mismatch, source, hint))


def load_checkpoint_strictly(model: nn.Module,
                             filename: str,
                             map_location: Union[str, Callable, None] = 'cpu',
                             strict: bool = True,
                             logger=None,
                             revise_keys: Sequence[Tuple[str, str]] = DEFAULT_REVISE_KEYS,
                             hint: Optional[str] = None) -> Dict:
    """Load a checkpoint into ``model``, stopping with a clear error if it does not fit.

    Args:
        model (nn.Module): the model built from the config (wrappers are unwrapped).
        filename (str): local path or any URI mmengine's ``CheckpointLoader`` reads.
        map_location: as for ``torch.load``. Defaults to ``'cpu'``.
        strict (bool): False loads what fits and logs the rest (mmengine's behaviour), for users
            who mean it. Defaults to True.
        logger: where the non-strict warning goes (mmengine's current logger if None).
        revise_keys: key rewrites applied before comparing and loading.
        hint (str, optional): appended to the error, e.g. the caller's opt-out flag.

    Returns:
        dict: the loaded checkpoint (``meta`` etc. included).

    Raises:
        CheckpointMismatchError: missing, unexpected or mis-shaped keys (with ``strict=True``).
    """
    checkpoint = _load_checkpoint(filename, map_location=map_location)
    if not isinstance(checkpoint, Mapping):
        raise CheckpointMismatchError(
            f'{filename} holds a {type(checkpoint).__name__}, not a checkpoint dict')
    if strict:
        check_state_dict_fits(model, checkpoint, source=str(filename), hint=hint,
                              revise_keys=revise_keys)
    load_state_dict(_unwrap(model), weights_of_checkpoint(checkpoint, revise_keys),
                    strict=strict, logger=logger or 'current')
    return checkpoint
