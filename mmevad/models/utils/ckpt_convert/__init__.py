"""Checkpoint key maps: original VideoMAE / VideoMAE V2 and official EVAD -> mmevad.

- :mod:`.engine`: the rule engine (apply a ``(regex, replacement)`` table, report every key,
  load strictly); knows no checkpoint.
- :mod:`.videomae`: VideoMAE / VideoMAE V2 tables (encoder -> TokenPruningViT, pre-training
  decoder -> the RoI head).
- :mod:`.official_evad`: official EVAD tables (FPN, localization head, RoI head, the detector).

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
from .engine import (ConversionReport, Rules, convert_state_dict, load_converted_strictly,
                     load_source_checkpoint, prefix_rules)
from .official_evad import (OFFICIAL_EVAD_FPN_RULES, OFFICIAL_EVAD_LOCALIZATION_HEAD_RULES,
                            OFFICIAL_EVAD_ROI_HEAD_PREFIXES, OFFICIAL_EVAD_ROI_HEAD_RULES,
                            OFFICIAL_EVAD_RULES, OFFICIAL_EVAD_WEIGHTS_KEY, convert_official_evad,
                            convert_official_evad_roi_head, missing_official_evad_keys,
                            unwrap_official_evad_checkpoint)
from .videomae import (VIDEOMAE_DECODER_KEY, VIDEOMAE_DECODER_TO_ROI_HEAD_RULES, VIDEOMAE_RULES,
                       VideoMAEConversion, convert_videomae, convert_videomae_decoder,
                       unwrap_videomae_checkpoint)

__all__ = [
    'ConversionReport', 'Rules', 'convert_state_dict', 'load_converted_strictly',
    'load_source_checkpoint', 'prefix_rules', 'OFFICIAL_EVAD_FPN_RULES',
    'OFFICIAL_EVAD_LOCALIZATION_HEAD_RULES', 'OFFICIAL_EVAD_ROI_HEAD_PREFIXES',
    'OFFICIAL_EVAD_ROI_HEAD_RULES', 'OFFICIAL_EVAD_RULES', 'OFFICIAL_EVAD_WEIGHTS_KEY',
    'convert_official_evad', 'convert_official_evad_roi_head', 'missing_official_evad_keys',
    'unwrap_official_evad_checkpoint', 'VIDEOMAE_DECODER_KEY',
    'VIDEOMAE_DECODER_TO_ROI_HEAD_RULES', 'VIDEOMAE_RULES', 'VideoMAEConversion',
    'convert_videomae', 'convert_videomae_decoder', 'unwrap_videomae_checkpoint'
]
