"""The rule engine of checkpoint conversion: apply a rename table to a state dict, report what
happened to every key, and load the result strictly.

Conversion is a pure function ``state_dict -> (state_dict, report)`` driven by explicit rename
tables (:func:`convert_state_dict`). Every source key is either renamed by a rule or dropped by a
rule that states why; any other key is reported as unknown and
:meth:`ConversionReport.raise_for_unknown` stops the conversion naming it. Rule tables are lists
of ``(regex, replacement)`` applied with ``re.fullmatch``; the first matching rule wins. The
tables themselves live in one module per source checkpoint (:mod:`.videomae`,
:mod:`.official_evad`).
"""
import pickle
import re
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from torch import Tensor

__all__ = [
    'ConversionReport', 'Rules', 'convert_state_dict', 'load_converted_strictly',
    'load_source_checkpoint', 'prefix_rules'
]


def load_source_checkpoint(path: str) -> dict:
    """Read a checkpoint to convert, on the CPU. Tensors-only loading (``weights_only``) first;
    original VideoMAE / EVAD files also pickle their training arguments or config, so fall back
    to a full unpickle with a warning — which can run code from the file."""
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError:
        warnings.warn(
            f'{path} holds pickled objects that weights_only=True refuses; loading it with '
            'weights_only=False, which can run code from the file: only do this for files you '
            'trust', stacklevel=2)
        return torch.load(path, map_location='cpu', weights_only=False)


# (regex matched with re.fullmatch, replacement with \1-style groups); replacement None = drop
Rules = Sequence[Tuple[str, Optional[str]]]


@dataclass
class ConversionReport:
    """What a conversion did with every source key.

    Attributes:
        renamed (dict): source key -> target key.
        dropped (dict): source key -> the pattern of the drop rule that removed it.
        unknown (list): source keys no rule matched (not in the output).
    """
    renamed: Dict[str, str] = field(default_factory=dict)
    dropped: Dict[str, str] = field(default_factory=dict)
    unknown: List[str] = field(default_factory=list)

    def raise_for_unknown(self, source: str = 'checkpoint') -> None:
        """Raise ``KeyError`` naming every unknown key."""
        if self.unknown:
            names = '\n  '.join(self.unknown)
            raise KeyError(
                f'{len(self.unknown)} key(s) of the {source} match no conversion rule; is it '
                f'the right kind of checkpoint for this converter?\n  {names}')

    def summary(self) -> str:
        return (f'{len(self.renamed)} renamed, {len(self.dropped)} dropped, '
                f'{len(self.unknown)} unknown')


def convert_state_dict(state_dict: Mapping[str, Tensor],
                       rules: Rules) -> Tuple['OrderedDict[str, Tensor]', ConversionReport]:
    """Rename (or drop) every key of ``state_dict`` with the first matching rule.

    Args:
        state_dict (Mapping[str, Tensor]): source weights.
        rules (Sequence[tuple]): ``(pattern, replacement)`` pairs; ``replacement=None`` drops
            the key.

    Returns:
        tuple: the converted ``OrderedDict`` (source order kept) and a :class:`ConversionReport`.

    Raises:
        KeyError: two source keys map to the same target key (names both).
    """
    compiled = [(re.compile(pattern), repl) for pattern, repl in rules]
    converted: 'OrderedDict[str, Tensor]' = OrderedDict()
    report = ConversionReport()
    source_of: Dict[str, str] = {}
    for key, value in state_dict.items():
        for pattern, repl in compiled:
            match = pattern.fullmatch(key)
            if match is None:
                continue
            if repl is None:
                report.dropped[key] = pattern.pattern
            else:
                target = match.expand(repl)
                if target in source_of:
                    raise KeyError(f'{source_of[target]!r} and {key!r} both convert to '
                                   f'{target!r}; the rule table is ambiguous')
                source_of[target] = key
                converted[target] = value
                report.renamed[key] = target
            break
        else:
            report.unknown.append(key)
    return converted, report


def prefix_rules(rules: Rules, prefix: str) -> List[Tuple[str, Optional[str]]]:
    """Re-target a rule table written relative to a submodule at ``prefix`` (e.g. ``'neck.'``);
    drop rules stay drop rules."""
    return [(pattern, None if repl is None else prefix + repl) for pattern, repl in rules]


def load_converted_strictly(model,
                            state_dict: Mapping[str, Tensor],
                            source: str = 'the converted checkpoint',
                            assign: bool = False) -> None:
    """Load ``state_dict`` into ``model`` with ``strict=True`` after checking that it fits.

    Unlike ``load_state_dict``'s combined message, the errors name the cause: keys the model
    expects but ``state_dict`` lacks, keys it does not know, and shape mismatches.

    Args:
        model (nn.Module): e.g. the EVAD detector built from the matching config.
        state_dict (Mapping[str, Tensor]): converted weights.
        source (str): what ``state_dict`` is, for the messages.
        assign (bool): passed to ``load_state_dict`` (``True`` places the given tensors, e.g.
            ``meta`` tensors, instead of copying). Defaults to False.

    Raises:
        KeyError: missing or unexpected keys (all named).
        ValueError: shape mismatches (names, checkpoint and model shapes).
    """
    expected = model.state_dict()
    missing = [key for key in expected if key not in state_dict]
    unexpected = [key for key in state_dict if key not in expected]
    if missing or unexpected:
        raise KeyError(f'{source} does not fit the model (wrong config for this checkpoint?): '
                       f'missing {missing}, unexpected {unexpected}')
    mismatched = [f'{key}: checkpoint {tuple(value.shape)}, model {tuple(expected[key].shape)}'
                  for key, value in state_dict.items() if value.shape != expected[key].shape]
    if mismatched:
        names = '\n  '.join(mismatched)
        raise ValueError(f'{len(mismatched)} shape mismatch(es) between {source} and the model '
                         f'(wrong config for this checkpoint?):\n  {names}')
    model.load_state_dict(state_dict, strict=True, assign=assign)

