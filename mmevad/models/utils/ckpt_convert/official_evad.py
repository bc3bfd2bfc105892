"""Key tables for checkpoints of the official EVAD trainer: the FPN neck, the localization head,
the RoI head, and their composition into the EVAD detector with a completeness check."""
import re
from collections import OrderedDict
from typing import List, Mapping, Tuple

from torch import Tensor

from .engine import ConversionReport, Rules, convert_state_dict, prefix_rules
from .videomae import VIDEOMAE_RULES, crd_block_rules

__all__ = [
    'OFFICIAL_EVAD_FPN_RULES', 'OFFICIAL_EVAD_LOCALIZATION_HEAD_RULES',
    'OFFICIAL_EVAD_ROI_HEAD_PREFIXES', 'OFFICIAL_EVAD_ROI_HEAD_RULES', 'OFFICIAL_EVAD_RULES',
    'OFFICIAL_EVAD_WEIGHTS_KEY', 'convert_official_evad', 'convert_official_evad_roi_head',
    'missing_official_evad_keys', 'unwrap_official_evad_checkpoint'
]


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

# Source: official EVAD names; target: relative to the RoI head.
OFFICIAL_EVAD_ROI_HEAD_RULES: Rules = [
    (r'det_head\.mask_token', 'mask_token'),
    (r'det_head\.encoder_to_decoder\.weight', 'encoder_to_decoder.weight'),
    *crd_block_rules(r'det_head\.decoder\.blocks'),
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

