"""Official EVAD checkpoint -> EVAD detector (ckpt_convert/official_evad.py, "official EVAD ->
EVAD detector").

The official layout (names, shapes, order) is written by ``_official_evad_reference`` from the
official model's structure; what the official model computes is restated there from
docs/algorithm.md, on the official-named weights, without mmevad's modules.
"""
import glob
import re
from dataclasses import replace
import os.path as osp

import pytest
import torch
from _utils import ROOT, parameter_init_skipped, tiny_evad_cfg
from _official_evad_reference import (TINY_ARCH, VIT_B_KTP, VIT_L_KTP, official_evad_forward,
                                      official_evad_shapes, random_official_state_dict)
from mmengine.config import Config

from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmevad.models.utils.ckpt_convert import (convert_official_evad, load_converted_strictly,
                                              unwrap_official_evad_checkpoint)
from mmevad.structures import clip_bboxes

# the AVA configs of the released models (the tube-dataset configs have other action classes)
RELEASED_CONFIGS = sorted(
    path for path in glob.glob(osp.join(ROOT, 'configs', 'evad', 'evad_vit-*.py'))
    if re.search(r'_ava2[12]-rgb\.py$', path))


def official_file(state_dict):
    """The layout of a file saved by the official trainer."""
    return dict(epoch=12, model_state=state_dict, optimizer_state={}, cfg=None, amp=None)


def build_tiny_model():
    return MODELS.build(tiny_evad_cfg())


def test_released_configs_are_all_checked():
    assert len(RELEASED_CONFIGS) == 6


@pytest.mark.parametrize('config', RELEASED_CONFIGS, ids=osp.basename)
def test_released_model_takes_exactly_the_official_weights(config):
    arch = VIT_L_KTP if 'vit-large' in config else VIT_B_KTP
    with parameter_init_skipped():
        model = MODELS.build(Config.fromfile(config).model)
    official = {name: torch.empty(shape, device='meta')
                for name, shape in official_evad_shapes(arch).items()}
    converted, report = convert_official_evad(official_file(official))

    assert list(report.dropped) == ['criterion.empty_weight']
    assert len(report.renamed) == len(official) - 1 == len(converted)
    expected = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    assert {key: tuple(value.shape) for key, value in converted.items()} == expected
    load_converted_strictly(model, converted, assign=True)


def two_clips():
    """Two normalised 16-frame clips padded to 64x96: the second is 48x80, zero beyond."""
    gen = torch.Generator().manual_seed(1)
    video = torch.randn(2, 3, 16, 64, 96, generator=gen)
    video[1, :, :, 48:] = 0
    video[1, :, :, :, 80:] = 0
    img_shapes = [(64, 96), (48, 80)]
    samples = [ActionDataSample(metainfo=dict(img_shape=shape)) for shape in img_shapes]
    return video, img_shapes, samples


def test_converted_model_computes_what_the_official_model_computes():
    official = random_official_state_dict(TINY_ARCH, seed=6)  # proposals on all four levels
    model = build_tiny_model()
    converted, _ = convert_official_evad(official_file(official))
    load_converted_strictly(model, converted)
    model.eval()
    video, img_shapes, samples = two_clips()

    ref_boxes, ref_person, ref_actions, trace = official_evad_forward(
        official, TINY_ARCH, video, img_shapes)
    # the inputs exercise what could go wrong: two pruning layers keeping non-key tokens in
    # score order (docs/official_behaviours.md#d1), boxes on every FPN level, boxes crossing the
    # border (RoI extension before clipping), persons above and below the selection threshold
    assert trace['kept_counts'] == [116, 70]  # ceil(0.6 * 192), ceil(0.6 * 116)
    assert not torch.equal(trace['gidx'], trace['gidx'].sort(dim=1).values)
    assert torch.cat(trace['levels']).unique().tolist() == [2, 3, 4, 5]
    last = trace['last_boxes']
    assert ((last[1, :, 2] > 80) | (last[1, :, 0] < 0) | (last[1, :, 1] < 0)).any()
    assert ((ref_person >= 0.7).sum(dim=1) > 0).all() and (ref_person < 0.7).any()

    # tensor mode gives the heads' raw outputs (docs/architecture.md): the boxes as predicted,
    # crossing the border, and logits; post-processed as predict does, they are the official ones
    with torch.no_grad():
        raw_boxes, person_logits, action_logits = model._forward(video, samples)
    boxes = torch.stack([clip_bboxes(b, shape) for b, shape in zip(raw_boxes, img_shapes)])
    person = person_logits.softmax(-1)[..., 0]
    actions = action_logits.sigmoid()
    assert torch.allclose(raw_boxes, last, atol=1e-3)
    assert torch.allclose(boxes, ref_boxes, atol=1e-3)
    assert torch.allclose(person, ref_person, atol=1e-5)
    torch.testing.assert_close(actions, ref_actions, atol=1e-5, rtol=0)

    # predict: person selection (docs/official_behaviours.md#d9) and AVAMetric's [0, 1] boxes
    with torch.no_grad():
        results = model.predict(video, samples)
    for b, (h, w) in enumerate(img_shapes):
        keep = ref_person[b] >= 0.7
        if not keep.any():
            keep = ~keep
        pred = results[b].pred_instances
        scale = torch.tensor([w, h, w, h])
        assert torch.allclose(pred.bboxes, ref_boxes[b][keep] / scale, atol=1e-4)
        assert torch.allclose(pred.scores[:, 1:], ref_actions[b][keep], atol=1e-5)
        assert torch.all(pred.scores[:, 0] == 0)

    # the comparison sees the docs/official_behaviours.md#d1 token order: the intended order
    # computes something else
    model.roi_head.kept_token_order = 'sorted'
    with torch.no_grad():
        sorted_actions = model._forward(video, samples)[2].sigmoid()
    assert (sorted_actions - ref_actions).abs().max() > 1e-3


def test_bare_state_dict_converts_like_the_official_file():
    official = random_official_state_dict(TINY_ARCH)
    from_file, _ = convert_official_evad(official_file(official))
    bare, report = convert_official_evad(official)
    assert list(bare) == list(from_file)
    assert all(bare[key] is from_file[key] for key in bare)
    assert torch.equal(bare['backbone.patch_embed.projection.weight'],
                       official['patch_embed.proj.weight'])
    assert report.renamed['det_head.decoder.blocks.1.act_module.1.bias'] == \
        'roi_head.decoder.action_heads.1.norm.bias'


def test_checkpoint_without_weights_names_its_keys():
    with pytest.raises(KeyError, match=r'model_state.*cfg.*epoch'):
        unwrap_official_evad_checkpoint(dict(epoch=3, cfg='yaml'))


@pytest.mark.parametrize('extra', [
    'det_head.s0_headseries.1.inst_interact.extra.weight',
    'module.blocks.0.norm1.weight',  # a DDP-wrapped save
    'head.weight',  # a VideoMAE classifier, dropped by the VideoMAE converter, not here
])
def test_unknown_key_stops_the_conversion(extra):
    official = random_official_state_dict(TINY_ARCH)
    official[extra] = torch.zeros(1)
    with pytest.raises(KeyError, match=r'1 key\(s\) .* no conversion rule.*' + re.escape(extra)):
        convert_official_evad(official_file(official))


@pytest.mark.parametrize('removed', [
    'blocks.2.attn.v_bias', 'det_head.s0_headseries.0.reg_module.7.bias',
    'init_proposal_boxes.weight', 'det_head.decoder.blocks.0.action_logits.weight',
    'fpn_output5.bias'
])
def test_missing_key_stops_the_conversion(removed):
    official = random_official_state_dict(TINY_ARCH)
    del official[removed]
    with pytest.raises(KeyError, match=r'1 key\(s\) .* missing.*' + re.escape(removed)):
        convert_official_evad(official_file(official))


def test_verification_names_missing_unexpected_and_mismatched_keys():
    model = build_tiny_model()
    official = random_official_state_dict(TINY_ARCH)

    # a whole decoder layer short: complete as far as the file goes, missing for the model
    short = {key: value for key, value in official.items()
             if not key.startswith('det_head.decoder.blocks.1.')}
    converted, _ = convert_official_evad(short)
    with pytest.raises(KeyError, match=r"missing \['roi_head\.decoder\.blocks\.1\.norm1\.weight'"):
        load_converted_strictly(model, converted)

    # one backbone block too many
    deeper = random_official_state_dict(replace(TINY_ARCH, depth=5, keep_rates=(1., ) * 5))
    converted, _ = convert_official_evad(deeper)
    with pytest.raises(KeyError, match=r"unexpected \['backbone\.blocks\.4\.norm1\.weight'"):
        load_converted_strictly(model, converted)

    # a wider decoder
    wider = random_official_state_dict(replace(TINY_ARCH, decoder_dims=64))
    converted, _ = convert_official_evad(wider)
    with pytest.raises(ValueError, match=r'roi_head\.mask_token: checkpoint \(1, 1, 64\), '
                       r'model \(1, 1, 32\)'):
        load_converted_strictly(model, converted)
