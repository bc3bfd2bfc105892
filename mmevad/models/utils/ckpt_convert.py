"""Checkpoint key maps: original VideoMAE / VideoMAE V2 and official EVAD -> mmevad.

Conversion is a pure function ``state_dict -> (state_dict, report)`` driven by explicit rename
tables (:func:`convert_state_dict`). Every source key is either renamed by a rule or dropped by a
rule that states why; any other key is reported as unknown and :meth:`ConversionReport.raise_for_unknown`
stops the conversion naming it. Rule tables are lists of ``(regex, replacement)`` applied with
``re.fullmatch``; the first matching rule wins.

Key maps are grouped by the module they target, relative to that module (no detector prefix):
the EVAD detector composes them with its attribute names (``backbone.``, ``neck.``,
``localization_head.``, ``roi_head.``).

VideoMAE / VideoMAE V2 (:func:`convert_videomae`) is the exception: its backbone keys come out
``backbone.``-prefixed, like an mmaction2 recognizer checkpoint, so the file loads through a
detector's ``init_cfg=dict(type='Pretrained')``; the MAE decoder of a pre-training checkpoint is
returned separately (``decoder_state_dict``, original names ``decoder.blocks.*``,
``encoder_to_decoder.weight``, ...) and stored by the converter CLI under the top-level key
:data:`VIDEOMAE_DECODER_KEY` of the output file, for the context refinement decoder's init.
"""
import pickle
import re
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import torch
from torch import Tensor

__all__ = [
    'ConversionReport', 'convert_state_dict', 'Rules', 'VIDEOMAE_DECODER_KEY', 'VIDEOMAE_RULES',
    'VideoMAEConversion', 'convert_videomae', 'unwrap_videomae_checkpoint', 'load_source_checkpoint'
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


# ---------------------------------------------------------------------------------------------
# VideoMAE / VideoMAE V2 -> TokenPruningViT (owner: TokenPruningViT)
# ---------------------------------------------------------------------------------------------
#
# Sources: the original MCG-NJU/VideoMAE and OpenGVLab/VideoMAEv2 checkpoints, weights under
# 'model' or 'module' (or a bare state dict), in one of two layouts:
#   fine-tuned   patch_embed.proj.*, blocks.i.*, fc_norm.* (mean pooling) or norm.*, head.*
#   pre-training encoder.{patch_embed.proj, blocks.i, norm}.*, encoder_to_decoder.weight,
#                mask_token, decoder.{blocks.i, norm, head}.*
# Output (VideoMAEConversion):
#   state_dict          'backbone.'-prefixed TokenPruningViT keys, the layout of an mmaction2
#                       recognizer checkpoint, so a detector's init_cfg=Pretrained loads it;
#   decoder_state_dict  pre-training checkpoints only: the MAE decoder entries under their original
#                       names ('decoder.blocks.*', 'decoder.norm.*', 'decoder.head.*',
#                       'encoder_to_decoder.weight', 'mask_token'); the official EVAD loader
#                       initialises its context refinement decoder and projection from
#                       'decoder.blocks.*' and 'encoder_to_decoder.*'
#                       (docs/algorithm.md#initialization). The converter
#                       CLI saves them as the top-level entry VIDEOMAE_DECODER_KEY of the output
#                       file, next to 'state_dict', where Pretrained loading does not see them.
# Dropped (named in the report): fc_norm.* and head.* of fine-tuned classifiers (EVAD's final
# backbone norm then starts at (1, 0), as in the official code, docs/algorithm.md#initialization)
# and any pos_embed (the fixed sinusoid table is rebuilt by the model,
# docs/official_behaviours.md#d18).

VIDEOMAE_DECODER_KEY = 'videomae_decoder'
_DECODER_PREFIX = VIDEOMAE_DECODER_KEY + '.'

VIDEOMAE_RULES: Rules = [
    # encoder: 'encoder.' only in pre-training checkpoints
    (r'(?:encoder\.)?patch_embed\.proj\.(weight|bias)', r'backbone.patch_embed.projection.\1'),
    (r'(?:encoder\.)?blocks\.(\d+)\.(norm1|norm2)\.(weight|bias)', r'backbone.blocks.\1.\2.\3'),
    (r'(?:encoder\.)?blocks\.(\d+)\.attn\.(q_bias|v_bias|qkv\.weight|proj\.weight|proj\.bias)',
     r'backbone.blocks.\1.attn.\2'),
    (r'(?:encoder\.)?blocks\.(\d+)\.mlp\.fc1\.(weight|bias)',
     r'backbone.blocks.\1.mlp.layers.0.0.\2'),
    (r'(?:encoder\.)?blocks\.(\d+)\.mlp\.fc2\.(weight|bias)',
     r'backbone.blocks.\1.mlp.layers.1.\2'),
    (r'(?:encoder\.)?norm\.(weight|bias)', r'backbone.norm.\1'),
    # MAE decoder of pre-training checkpoints, kept for the context refinement decoder
    (r'(decoder\..+|encoder_to_decoder\.weight|mask_token)', _DECODER_PREFIX + r'\1'),
    # classifier parts of fine-tuned checkpoints (docs/algorithm.md#initialization: the final norm
    # starts at (1, 0))
    (r'fc_norm\.(weight|bias)', None),
    (r'head\.(weight|bias)', None),
    # fixed sinusoid table, rebuilt by TokenPruningViT (docs/official_behaviours.md#d18)
    (r'(?:encoder\.)?pos_embed', None),
]

# every TokenPruningViT parameter, relative to 'backbone.'; '{i}' is a block index
_BACKBONE_KEYS = ('patch_embed.projection.weight', 'patch_embed.projection.bias', 'norm.weight',
                  'norm.bias')
_BLOCK_KEYS = ('norm1.weight', 'norm1.bias', 'attn.q_bias', 'attn.v_bias', 'attn.qkv.weight',
               'attn.proj.weight', 'attn.proj.bias', 'norm2.weight', 'norm2.bias',
               'mlp.layers.0.0.weight', 'mlp.layers.0.0.bias', 'mlp.layers.1.weight',
               'mlp.layers.1.bias')


class VideoMAEConversion(NamedTuple):
    """Result of :func:`convert_videomae`.

    Attributes:
        state_dict (OrderedDict): ``backbone.``-prefixed TokenPruningViT weights.
        decoder_state_dict (OrderedDict): MAE decoder weights of a pre-training checkpoint under
            their original names (empty for fine-tuned checkpoints).
        report (ConversionReport): what happened to every source key.
        missing (list[str]): backbone keys, for the depth found in the source, that it did not
            provide (``backbone.norm.*`` for fine-tuned checkpoints, by design).
    """
    state_dict: 'OrderedDict[str, Tensor]'
    decoder_state_dict: 'OrderedDict[str, Tensor]'
    report: ConversionReport
    missing: List[str]


def unwrap_videomae_checkpoint(checkpoint: Mapping) -> Mapping[str, Tensor]:
    """The state dict of a VideoMAE checkpoint: under ``'model'`` or ``'module'``, or the
    mapping itself when its values are tensors.

    Raises:
        KeyError: none of these layouts fits (names the top-level keys).
    """
    for key in ('model', 'module'):
        if isinstance(checkpoint.get(key), Mapping):
            return checkpoint[key]
    if checkpoint and all(isinstance(value, Tensor) for value in checkpoint.values()):
        return checkpoint
    raise KeyError(f'no VideoMAE weights found: expected them under "model" or "module" or a '
                   f'bare state dict, the checkpoint has the keys {sorted(checkpoint)[:10]}')


def convert_videomae(checkpoint: Mapping) -> VideoMAEConversion:
    """Convert an original VideoMAE / VideoMAE V2 checkpoint for TokenPruningViT.

    Args:
        checkpoint (Mapping): the loaded file (``{'model': ...}``, ``{'module': ...}``) or its
            state dict.

    Returns:
        VideoMAEConversion: backbone weights, MAE decoder weights, the report and the missing
        backbone keys.

    Raises:
        KeyError: a key no rule knows (all such keys are named), or two keys that convert to
            the same name (e.g. ``blocks.0.*`` next to ``encoder.blocks.0.*``).
        ValueError: the checkpoint uses layer scale (``gamma_1``/``gamma_2``), which
            TokenPruningViT does not have (EVAD uses none, docs/algorithm.md#backbone-hparams).
    """
    state_dict = unwrap_videomae_checkpoint(checkpoint)
    gammas = [key for key in state_dict if re.search(r'blocks\.\d+\.gamma_[12]$', key)]
    if gammas:
        raise ValueError(f'the checkpoint uses layer scale ({gammas[0]}, ...; init_values > 0), '
                         f'which TokenPruningViT does not implement (EVAD uses none)')
    converted, report = convert_state_dict(state_dict, VIDEOMAE_RULES)
    report.raise_for_unknown('VideoMAE checkpoint')
    backbone, decoder = OrderedDict(), OrderedDict()
    for key, value in converted.items():
        if key.startswith(_DECODER_PREFIX):
            decoder[key[len(_DECODER_PREFIX):]] = value
        else:
            backbone[key] = value
    return VideoMAEConversion(backbone, decoder, report, _missing_backbone_keys(backbone))


def _missing_backbone_keys(backbone: Mapping[str, Tensor]) -> List[str]:
    """Expected ``backbone.*`` keys absent from ``backbone``, for its deepest block index."""
    indices = [int(m.group(1)) for m in map(re.compile(r'backbone\.blocks\.(\d+)\.').match,
                                            backbone) if m]
    depth = max(indices) + 1 if indices else 0
    expected = [f'backbone.{key}' for key in _BACKBONE_KEYS]
    expected += [f'backbone.blocks.{i}.{key}' for i in range(depth) for key in _BLOCK_KEYS]
    return [key for key in expected if key not in backbone]



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
    # learned proposals (top level in the official model, docs/algorithm.md#proposals)
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

def _crd_block_rules(source: str) -> List[Tuple[str, str]]:
    """Rename rules for the transformer blocks of a decoder whose keys match the regex prefix
    ``source`` (e.g. ``decoder\\.blocks``): official VideoMAE block names
    (``mlp.fc1`` / ``mlp.fc2``) -> ``decoder.blocks.{i}`` with mmaction names (``mlp.layers.0.0`` /
    ``mlp.layers.1``)."""
    block = source + r'\.(\d+)\.'
    return [
        (block + r'(norm1|norm2)\.(weight|bias)', r'decoder.blocks.\1.\2.\3'),
        (block + r'attn\.(q_bias|v_bias|qkv\.weight|proj\.weight|proj\.bias)',
         r'decoder.blocks.\1.attn.\2'),
        (block + r'mlp\.fc1\.(weight|bias)', r'decoder.blocks.\1.mlp.layers.0.0.\2'),
        (block + r'mlp\.fc2\.(weight|bias)', r'decoder.blocks.\1.mlp.layers.1.\2'),
    ]


# Source: official EVAD names; target: relative to the RoI head.
OFFICIAL_EVAD_ROI_HEAD_RULES: Rules = [
    (r'det_head\.mask_token', 'mask_token'),
    (r'det_head\.encoder_to_decoder\.weight', 'encoder_to_decoder.weight'),
    *_crd_block_rules(r'det_head\.decoder\.blocks'),
    # each official decoder block owns its action head; ours sit beside the blocks
    (r'det_head\.decoder\.blocks\.(\d+)\.act_module\.0\.weight',
     r'decoder.action_heads.\1.fc.weight'),
    (r'det_head\.decoder\.blocks\.(\d+)\.act_module\.1\.(weight|bias)',
     r'decoder.action_heads.\1.norm.\2'),
    (r'det_head\.decoder\.blocks\.(\d+)\.action_logits\.(weight|bias)',
     r'decoder.action_heads.\1.fc_cls.\2'),
]

# The official keys that belong to the RoI head (everything else is another section's).
OFFICIAL_EVAD_ROI_HEAD_PREFIXES = ('det_head.mask_token', 'det_head.encoder_to_decoder.',
                                   'det_head.decoder.')

# Source: a VideoMAE / VideoMAE V2 *pre-training* checkpoint (the MAE model, not a fine-tuned
# classifier); target: relative to the RoI head. docs/algorithm.md#initialization: the official
# loader moves `decoder.*` and `encoder_to_decoder.*` into the EVAD head, which initialises the
# projection and the first decoder blocks (ViT-B pre-training has 4 decoder blocks, the CRD 6).
VIDEOMAE_DECODER_TO_ROI_HEAD_RULES: Rules = [
    (r'encoder_to_decoder\.weight', 'encoder_to_decoder.weight'),
    *_crd_block_rules(r'decoder\.blocks'),
    # pixel-reconstruction output of MAE pre-training; the CRD has no final norm and no head
    (r'decoder\.(norm|head)\.(weight|bias)', None),
    # MAE's mask token: the official loader leaves it out (its name has no `decoder.` prefix)
    (r'mask_token', None),
    # encoder weights belong to the backbone (the VideoMAE -> TokenPruningViT section)
    (r'encoder\..+', None),
    # fixed sinusoid tables, rebuilt by the model
    (r'(encoder\.|decoder\.)?pos_embed', None),
]


def convert_official_evad_roi_head(
        state_dict: Mapping[str, Tensor]) -> Tuple['OrderedDict[str, Tensor]', ConversionReport]:
    """Official EVAD weights -> :class:`ContextRefinementRoIHead` state dict.

    Only the keys under :data:`OFFICIAL_EVAD_ROI_HEAD_PREFIXES` are looked at (the rest belong to
    the backbone, neck and localization head); the result has keys relative to the RoI head.

    Args:
        state_dict (Mapping[str, Tensor]): the official ``model_state``.

    Returns:
        tuple: converted state dict and :class:`ConversionReport` (``unknown`` lists head keys
        no rule knows).
    """
    head_keys = {k: v for k, v in state_dict.items()
                 if k.startswith(OFFICIAL_EVAD_ROI_HEAD_PREFIXES)}
    return convert_state_dict(head_keys, OFFICIAL_EVAD_ROI_HEAD_RULES)


def convert_videomae_decoder(
        state_dict: Mapping[str, Tensor]) -> Tuple['OrderedDict[str, Tensor]', ConversionReport]:
    """VideoMAE pre-training weights -> the projection and decoder blocks of the RoI head.

    Args:
        state_dict (Mapping[str, Tensor]): the pre-training checkpoint's weights (the dict under
            its ``model`` / ``module`` key).

    Returns:
        tuple: converted state dict, keys relative to the RoI head (``encoder_to_decoder.weight``,
        ``decoder.blocks.{i}.*``), and a :class:`ConversionReport`.
    """
    return convert_state_dict(state_dict, VIDEOMAE_DECODER_TO_ROI_HEAD_RULES)


# ---------------------------------------------------------------------------------------------
# official EVAD -> EVAD detector (owner: the official EVAD checkpoint converter)
# ---------------------------------------------------------------------------------------------
#
# Source: a checkpoint of the official EVAD trainer (MCG-NJU/EVAD), `{'epoch', 'model_state',
# 'optimizer_state', 'cfg', 'amp'}` with the weights under 'model_state' and no 'module.' prefix,
# or that state dict itself. Target: the EVAD detector, whose
# attributes are `backbone`, `neck`, `localization_head` and `roi_head`; the per-module tables
# above are composed with these prefixes. Of the VideoMAE table only the backbone rules apply
# (the official backbone names are VideoMAE's fine-tuned names); its MAE-decoder, classifier and
# pos_embed rules would silently accept keys an EVAD checkpoint never has.
# Dropped: criterion.empty_weight, the class weight [1, 0.1] of the person / no-object loss, a
# config value (loss_cls.class_weight), not a learned weight. The two sinusoid position tables
# are not stored officially; the model rebuilds them (docs/official_behaviours.md#d18).

OFFICIAL_EVAD_WEIGHTS_KEY = 'model_state'


def prefix_rules(rules: Rules, prefix: str) -> List[Tuple[str, Optional[str]]]:
    """Re-target a rule table written relative to a submodule at ``prefix`` (e.g. ``'neck.'``);
    drop rules stay drop rules."""
    return [(pattern, None if repl is None else prefix + repl) for pattern, repl in rules]


OFFICIAL_EVAD_RULES: Rules = [
    *[(pattern, repl) for pattern, repl in VIDEOMAE_RULES
      if repl is not None and repl.startswith('backbone.')],
    *prefix_rules(OFFICIAL_EVAD_FPN_RULES, 'neck.'),
    *prefix_rules(OFFICIAL_EVAD_LOCALIZATION_HEAD_RULES, 'localization_head.'),
    *prefix_rules(OFFICIAL_EVAD_ROI_HEAD_RULES, 'roi_head.'),
]
"""Official EVAD keys -> :class:`~mmevad.models.detectors.EVAD` keys."""

# The official parameter names, for the completeness check (shapes are checked against a model
# by load_converted_strictly): names that occur once, and names repeated per index of a group.
_OFFICIAL_VIT_BLOCK_KEYS = (
    'norm1.weight', 'norm1.bias', 'attn.q_bias', 'attn.v_bias', 'attn.qkv.weight',
    'attn.proj.weight', 'attn.proj.bias', 'norm2.weight', 'norm2.bias', 'mlp.fc1.weight',
    'mlp.fc1.bias', 'mlp.fc2.weight', 'mlp.fc2.bias')
_OFFICIAL_EVAD_SINGLE_KEYS = (
    'patch_embed.proj.weight', 'patch_embed.proj.bias', 'norm.weight', 'norm.bias',
    'det_head.mask_token', 'det_head.encoder_to_decoder.weight',
    *[f'fpn_{kind}{level}.{param}' for level in range(2, 6) for kind in ('lateral', 'output')
      for param in ('weight', 'bias')],
    'init_proposal_features.weight', 'init_proposal_boxes.weight')
_OFFICIAL_EVAD_GROUP_KEYS = {
    # backbone block i
    'blocks': _OFFICIAL_VIT_BLOCK_KEYS,
    # Sparse R-CNN stage i; towers are Sequential(Linear without bias, LayerNorm, ReLU) x 1 (class)
    # and x 3 (boxes)
    'det_head.s0_headseries': (
        'self_attn.in_proj_weight', 'self_attn.in_proj_bias', 'self_attn.out_proj.weight',
        'self_attn.out_proj.bias',
        *[f'inst_interact.{layer}.{param}' for layer in ('dynamic_layer', 'norm1', 'norm2',
                                                         'out_layer', 'norm3')
          for param in ('weight', 'bias')],
        *[f'{layer}.{param}' for layer in ('linear1', 'linear2', 'norm1', 'norm2', 'norm3')
          for param in ('weight', 'bias')],
        'cls_module.0.weight', 'cls_module.1.weight', 'cls_module.1.bias',
        *[f'reg_module.{3 * i + j}.{param}' for i in range(3)
          for j, params in ((0, ('weight', )), (1, ('weight', 'bias'))) for param in params],
        'class_logits.weight', 'class_logits.bias', 'bboxes_delta.weight', 'bboxes_delta.bias'),
    # context refinement layer i with its action head
    'det_head.decoder.blocks': (
        *_OFFICIAL_VIT_BLOCK_KEYS, 'act_module.0.weight', 'act_module.1.weight',
        'act_module.1.bias', 'action_logits.weight', 'action_logits.bias'),
}


def missing_official_evad_keys(state_dict: Mapping[str, Tensor]) -> List[str]:
    """Official EVAD parameter names absent from ``state_dict``.

    Groups repeated per index (backbone blocks, Sparse R-CNN stages, decoder layers) are expected
    for every index up to the largest one present (index 0 if none is).
    """
    expected = list(_OFFICIAL_EVAD_SINGLE_KEYS)
    for group, names in _OFFICIAL_EVAD_GROUP_KEYS.items():
        index = re.compile(re.escape(group) + r'\.(\d+)\.')
        found = [int(m.group(1)) for m in map(index.match, state_dict) if m]
        count = max(found) + 1 if found else 1
        expected += [f'{group}.{i}.{name}' for i in range(count) for name in names]
    return [key for key in expected if key not in state_dict]


def unwrap_official_evad_checkpoint(checkpoint: Mapping) -> Mapping[str, Tensor]:
    """The state dict of an official EVAD checkpoint: under ``'model_state'``, or the mapping
    itself when its values are tensors.

    Raises:
        KeyError: neither layout fits (names the top-level keys).
    """
    weights = checkpoint.get(OFFICIAL_EVAD_WEIGHTS_KEY)
    if isinstance(weights, Mapping):
        return weights
    if checkpoint and all(isinstance(value, Tensor) for value in checkpoint.values()):
        return checkpoint
    raise KeyError(f'no EVAD weights found: expected them under "{OFFICIAL_EVAD_WEIGHTS_KEY}" '
                   f'(official trainer) or a bare state dict, the checkpoint has the keys '
                   f'{sorted(checkpoint)[:10]}')


def convert_official_evad(
        checkpoint: Mapping) -> Tuple['OrderedDict[str, Tensor]', ConversionReport]:
    """Convert an official EVAD checkpoint into an EVAD detector state dict.

    Args:
        checkpoint (Mapping): the loaded official file (weights under ``'model_state'``) or its
            state dict.

    Returns:
        tuple: the converted ``OrderedDict`` (keys ``backbone.*``, ``neck.*``,
        ``localization_head.*``, ``roi_head.*``) and the :class:`ConversionReport`
        (``criterion.empty_weight`` is the only dropped key).

    Raises:
        KeyError: a key no rule knows, or an official key missing from the checkpoint (all such
            keys are named); two keys converting to the same name.
    """
    state_dict = unwrap_official_evad_checkpoint(checkpoint)
    converted, report = convert_state_dict(state_dict, OFFICIAL_EVAD_RULES)
    report.raise_for_unknown('official EVAD checkpoint')
    missing = missing_official_evad_keys(state_dict)
    if missing:
        names = '\n  '.join(missing)
        raise KeyError(f'{len(missing)} key(s) of the official EVAD model are missing from the '
                       f'checkpoint; is it complete (not a backbone-only or pruned file)?\n  '
                       f'{names}')
    return converted, report


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


__all__ += [
    'OFFICIAL_EVAD_RULES', 'OFFICIAL_EVAD_WEIGHTS_KEY', 'convert_official_evad',
    'load_converted_strictly', 'missing_official_evad_keys', 'prefix_rules',
    'unwrap_official_evad_checkpoint'
]
