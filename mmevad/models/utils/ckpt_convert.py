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
# Official stage parameters live under `det_head.s0_headseries.{stage}.`; targets are relative
# to QueryLocalizationHead, whose stage `i` is the mmdet DIIHead `bbox_head.{i}`.
_OFFICIAL_STAGE = r'det_head\.s0_headseries\.(\d+)\.'
_STAGE = r'bbox_head.\1.'

OFFICIAL_EVAD_LOCALIZATION_HEAD_RULES: Rules = [
    # self-attention among proposals: torch MultiheadAttention inside mmcv's wrapper
    (_OFFICIAL_STAGE + r'self_attn\.(in_proj_weight|in_proj_bias|out_proj\.weight|out_proj\.bias)',
     _STAGE + r'attention.attn.\2'),
    (_OFFICIAL_STAGE + r'norm1\.(weight|bias)', _STAGE + r'attention_norm.\2'),
    # dynamic instance interaction: the generator's first in*feat outputs are the (in, feat)
    # matrix, the rest the (feat, out) one, in both implementations
    (_OFFICIAL_STAGE + r'inst_interact\.dynamic_layer\.(weight|bias)',
     _STAGE + r'instance_interactive_conv.dynamic_layer.\2'),
    (_OFFICIAL_STAGE + r'inst_interact\.norm1\.(weight|bias)',
     _STAGE + r'instance_interactive_conv.norm_in.\2'),
    (_OFFICIAL_STAGE + r'inst_interact\.norm2\.(weight|bias)',
     _STAGE + r'instance_interactive_conv.norm_out.\2'),
    (_OFFICIAL_STAGE + r'inst_interact\.out_layer\.(weight|bias)',
     _STAGE + r'instance_interactive_conv.fc_layer.\2'),
    (_OFFICIAL_STAGE + r'inst_interact\.norm3\.(weight|bias)',
     _STAGE + r'instance_interactive_conv.fc_norm.\2'),
    (_OFFICIAL_STAGE + r'norm2\.(weight|bias)', _STAGE + r'instance_interactive_conv_norm.\2'),
    # FFN: mmcv FFN = Sequential(Sequential(Linear, ReLU, Dropout), Linear, Dropout)
    (_OFFICIAL_STAGE + r'linear1\.(weight|bias)', _STAGE + r'ffn.layers.0.0.\2'),
    (_OFFICIAL_STAGE + r'linear2\.(weight|bias)', _STAGE + r'ffn.layers.1.\2'),
    (_OFFICIAL_STAGE + r'norm3\.(weight|bias)', _STAGE + r'ffn_norm.\2'),
    # towers: the same (Linear without bias, LayerNorm, ReLU) index layout on both sides
    (_OFFICIAL_STAGE + r'cls_module\.(\d+)\.(weight|bias)', _STAGE + r'cls_fcs.\2.\3'),
    (_OFFICIAL_STAGE + r'reg_module\.(\d+)\.(weight|bias)', _STAGE + r'reg_fcs.\2.\3'),
    # class_logits rows (person, no-object) = DIIHead softmax rows (class 0, background 1);
    # bboxes_delta rows (dx, dy, dw, dh) = DeltaXYWHBBoxCoder's order
    (_OFFICIAL_STAGE + r'class_logits\.(weight|bias)', _STAGE + r'fc_cls.\2'),
    (_OFFICIAL_STAGE + r'bboxes_delta\.(weight|bias)', _STAGE + r'fc_reg.\2'),
    # learned proposals (top level in the official model, spec §2.2)
    (r'init_proposal_boxes\.weight', r'proposal_generator.init_proposal_bboxes.weight'),
    (r'init_proposal_features\.weight', r'proposal_generator.init_proposal_features.weight'),
    # the class weight [1, 0.1] of the person loss, a config value (loss_cls.class_weight)
    (r'criterion\.empty_weight', None),
]
"""Official EVAD keys -> :class:`QueryLocalizationHead` keys (relative to the head)."""

# detectron2 FPN level k (2..5) = mmdet FPN index k - 2; mmcv ConvModule holds the conv as `.conv`
OFFICIAL_EVAD_FPN_RULES: Rules = [
    rule for level in range(2, 6) for rule in (
        (rf'fpn_lateral{level}\.(weight|bias)', rf'lateral_convs.{level - 2}.conv.\1'),
        (rf'fpn_output{level}\.(weight|bias)', rf'fpn_convs.{level - 2}.conv.\1'),
    )
]
"""Official EVAD keys -> mmdet ``FPN`` neck keys (relative to the neck, ``num_outs=4``)."""


# ---------------------------------------------------------------------------------------------
# official EVAD -> ContextRefinementRoIHead (owner: ContextRefinementRoIHead)
# ---------------------------------------------------------------------------------------------
