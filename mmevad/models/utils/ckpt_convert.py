"""Checkpoint key maps: original VideoMAE / VideoMAE V2 and official EVAD -> mmevad.

Conversion is a pure function ``state_dict -> (state_dict, report)`` driven by explicit rename
tables (:func:`convert_state_dict`). Every source key is either renamed by a rule or dropped by a
rule that states why; any other key is reported as unknown and :meth:`ConversionReport.raise_for_unknown`
stops the conversion naming it. Rule tables are lists of ``(regex, replacement)`` applied with
``re.fullmatch``; the first matching rule wins.

Key maps are grouped by the module they target, relative to that module (no detector prefix):
the EVAD detector composes them with its attribute names (``backbone.``, ``neck.``,
``localization_head.``, ``roi_head.``).
"""
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from torch import Tensor

__all__ = ['ConversionReport', 'convert_state_dict', 'Rules']

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


# ---------------------------------------------------------------------------------------------
# VideoMAE / VideoMAE V2 -> TokenPruningViT (owner: TokenPruningViT)
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# official EVAD -> QueryLocalizationHead (+ FPN neck) (owner: QueryLocalizationHead)
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# official EVAD -> ContextRefinementRoIHead (owner: ContextRefinementRoIHead)
# ---------------------------------------------------------------------------------------------
