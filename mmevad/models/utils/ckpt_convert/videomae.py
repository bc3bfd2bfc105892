"""Key tables for the original VideoMAE / VideoMAE V2 checkpoints: the encoder -> TokenPruningViT
(``backbone.``-prefixed), and the MAE decoder of a pre-training checkpoint -> the RoI head's
projection and context refinement decoder blocks."""
import re
from collections import OrderedDict
from typing import List, Mapping, NamedTuple, Tuple

from torch import Tensor

from .engine import ConversionReport, Rules, convert_state_dict

__all__ = [
    'VIDEOMAE_DECODER_KEY', 'VIDEOMAE_DECODER_TO_ROI_HEAD_RULES', 'VIDEOMAE_RULES',
    'VideoMAEConversion', 'convert_videomae', 'convert_videomae_decoder', 'crd_block_rules',
    'unwrap_videomae_checkpoint'
]


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
# VideoMAE pre-training decoder -> ContextRefinementRoIHead (owner: ContextRefinementRoIHead)
# ---------------------------------------------------------------------------------------------

def crd_block_rules(source: str) -> List[Tuple[str, str]]:
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


# Source: a VideoMAE / VideoMAE V2 *pre-training* checkpoint (the MAE model, not a fine-tuned
# classifier); target: relative to the RoI head. docs/algorithm.md#initialization: the official
# loader moves `decoder.*` and `encoder_to_decoder.*` into the EVAD head, which initialises the
# projection and the first decoder blocks (ViT-B pre-training has 4 decoder blocks, the CRD 6).
VIDEOMAE_DECODER_TO_ROI_HEAD_RULES: Rules = [
    (r'encoder_to_decoder\.weight', 'encoder_to_decoder.weight'),
    *crd_block_rules(r'decoder\.blocks'),
    # pixel-reconstruction output of MAE pre-training; the CRD has no final norm and no head
    (r'decoder\.(norm|head)\.(weight|bias)', None),
    # MAE's mask token: the official loader leaves it out (its name has no `decoder.` prefix)
    (r'mask_token', None),
    # encoder weights belong to the backbone (the VideoMAE -> TokenPruningViT section)
    (r'encoder\..+', None),
    # fixed sinusoid tables, rebuilt by the model
    (r'(encoder\.|decoder\.)?pos_embed', None),
]


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

