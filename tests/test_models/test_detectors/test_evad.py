"""The EVAD detector end to end on a tiny model and the synthetic AVA data."""
import copy
import os.path as osp
from unittest.mock import MagicMock

import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData
from _utils import ROOT, tiny_evad_cfg
from mmaction.registry import DATASETS, MODELS
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from mmevad.structures import clip_bboxes

SYNTHETIC_DATA = osp.join(ROOT, 'configs', '_base_', 'datasets', 'synthetic_ava.py')


def build(**model):
    torch.manual_seed(0)
    detector = MODELS.build(tiny_evad_cfg(**model))
    detector.init_weights()
    return detector


@pytest.fixture(scope='module')
def batch(synthetic_ava):
    """Two training clips of the synthetic set through the real pipeline (no random flip)."""
    data = Config.fromfile(SYNTHETIC_DATA)
    dataset_cfg = copy.deepcopy(data.train_dataloader.dataset)
    dataset_cfg.update(ann_file=synthetic_ava.ann_file_train,
                       exclude_file=synthetic_ava.exclude_file_train,
                       label_file=synthetic_ava.label_file,
                       data_prefix=dict(img=synthetic_ava.data_root),
                       pipeline=data.val_pipeline)
    dataset = DATASETS.build(dataset_cfg)
    return pseudo_collate([dataset[0], dataset[len(dataset) - 1]])


def preprocess(detector, batch, training):
    return detector.data_preprocessor(copy.deepcopy(batch), training)


def test_loss_terms_are_finite_and_named(batch):
    detector = build()
    data = preprocess(detector, batch, True)
    assert data['inputs'].shape[-2:] == (96, 128)  # 96x128 frames: already multiples of 32
    losses = detector(**data, mode='loss')
    loss_keys = sorted(k for k in losses if 'loss' in k)
    num_stages = detector.localization_head.num_stages
    depth = len(detector.roi_head.decoder.blocks)
    assert loss_keys == sorted([f's{i}.loss_{n}' for i in range(num_stages)
                                for n in ('cls', 'bbox', 'giou')] +
                               [f'd{j}.loss_action' for j in range(depth)])
    assert all(torch.isfinite(losses[k]).all() for k in loss_keys)


def test_loss_under_autocast_matches_fp32(batch):
    # mixed precision (e.g. tools/train.py --amp on GPUs) runs the detector in half precision;
    # bf16 on CPU exercises the same dtype mixing (fp32 parameters, bf16 activations). mmcv's
    # CPU RoIAlign has no bf16 kernel, so both heads pool with SeparableRoIAlign here.
    roi_layer = dict(type='SeparableRoIAlign', output_size=7, sampling_ratio=2, aligned=True)
    detector = build(
        localization_head=dict(bbox_roi_extractor=dict(
            type='IsolatedSingleRoIExtractor', _scope_='mmaction', roi_layer=roi_layer)),
        roi_head=dict(roi_layer=roi_layer))
    data = preprocess(detector, batch, True)
    reference = detector.parse_losses(detector(**data, mode='loss'))[0]
    with torch.autocast('cpu', dtype=torch.bfloat16):
        losses = detector(**data, mode='loss')
    loss = detector.parse_losses(losses)[0]
    assert torch.isfinite(loss)
    assert loss.item() == pytest.approx(reference.item(), rel=0.05)


def test_mean_reduction_divides_every_term_by_their_count(batch):
    """docs/official_behaviours.md#d10: the official trainer minimises the mean of its weighted loss
    terms."""
    mean = build()(**preprocess(build(), batch, True), mode='loss')
    total = build(loss_reduction='sum')(**preprocess(build(), batch, True), mode='loss')
    num_terms = sum('loss' in k for k in total)
    for key in total:
        expected = total[key] / num_terms if 'loss' in key else total[key]
        torch.testing.assert_close(mean[key], expected)


def test_mean_divisor_is_the_architecture_s_count_of_evad_terms():
    detector = build()
    num_stages = detector.localization_head.num_stages
    depth = len(detector.roi_head.decoder.blocks)
    assert detector.loss_divisor == 3 * num_stages + depth
    assert build(loss_divisor=20).loss_divisor == 20


def test_optional_denoising_terms_leave_the_evad_terms_unchanged(batch):
    """docs/official_behaviours.md#d10: the divisor of loss_reduction='mean' counts EVAD's terms
    only, so switching the denoising terms on does not rescale the others."""
    plain = build()
    denoising = build(localization_head=dict(denoising_groups=2))
    # same weights (the denoising feature is the only extra parameter); eval: no dropout, so the
    # only randomness is the denoising jitter, drawn after the EVAD terms
    missing, unexpected = denoising.load_state_dict(plain.state_dict(), strict=False)
    assert missing == ['localization_head.denoising.feature'] and unexpected == []
    plain.eval(), denoising.eval()
    data = preprocess(plain, batch, True)
    with torch.no_grad():
        reference = plain(**copy.deepcopy(data), mode='loss')
        losses = denoising(**copy.deepcopy(data), mode='loss')
    extra = sorted(set(losses) - set(reference))
    assert extra and all('.dn_loss_' in k for k in extra)
    for key, value in reference.items():
        torch.testing.assert_close(losses[key], value)
    # the optional terms are divided by the same number
    total = build(localization_head=dict(denoising_groups=2), loss_reduction='sum')
    total.load_state_dict(denoising.state_dict())
    total.eval()
    torch.manual_seed(1)
    with torch.no_grad():
        mean = denoising(**copy.deepcopy(data), mode='loss')
    torch.manual_seed(1)
    with torch.no_grad():
        summed = total(**copy.deepcopy(data), mode='loss')
    for key in extra:
        torch.testing.assert_close(mean[key], summed[key] / denoising.loss_divisor)


def test_train_step_updates_and_every_parameter_gets_a_gradient(batch):
    detector = build()
    detector.train()
    optim_wrapper = MagicMock()
    optim_wrapper.optim_context.return_value.__enter__.return_value = None
    log_vars = detector.train_step(copy.deepcopy(batch), optim_wrapper)
    optim_wrapper.update_params.assert_called_once()
    assert 'loss' in log_vars
    loss = optim_wrapper.update_params.call_args[0][0]
    loss.backward()
    # a parameter left out of the graph would stop a DistributedDataParallel run
    without_grad = [n for n, p in detector.named_parameters() if p.grad is None]
    assert without_grad == []


def test_predict_gives_avametric_layout(batch):
    detector = build()
    detector.eval()
    with torch.no_grad():
        samples = detector.test_step(copy.deepcopy(batch))
    num_proposals = detector.localization_head.num_proposals
    for sample in samples:
        pred = sample.pred_instances
        n = len(pred)
        assert 1 <= n <= num_proposals
        assert pred.bboxes.shape == (n, 4) and pred.scores.shape == (n, 81)
        assert ((pred.bboxes >= 0) & (pred.bboxes <= 1)).all()
        assert (pred.scores[:, 0] == 0).all()
        assert ((pred.scores >= 0) & (pred.scores <= 1)).all()
        assert not pred.bboxes.requires_grad


def test_person_selection_keeps_confident_proposals_or_all(batch):
    """docs/official_behaviours.md#d9: proposals with person probability >= threshold; all of them
    when none passes."""
    detector = build()
    detector.eval()
    data = preprocess(detector, batch, False)
    with torch.no_grad():
        _, person_logits, action_logits = detector(**data, mode='tensor')
        person_scores, action_scores = probabilities(person_logits, action_logits)
        threshold = person_scores[0].median().item()
        detector.person_score_thr = threshold
        samples = detector(**preprocess(detector, batch, False), mode='predict')
    keep = person_scores[0] >= threshold
    torch.testing.assert_close(samples[0].pred_instances.scores, action_scores[0][keep])
    detector.person_score_thr = 0.7
    assert detector.select_persons(torch.tensor([0.1, 0.69])).tolist() == [0, 1]
    assert detector.select_persons(torch.tensor([0.1, 0.8, 0.7])).tolist() == [1, 2]
    assert detector.select_persons(torch.tensor([0.1, 0.8, 0.7]), 0.75).tolist() == [1]
    assert detector.select_persons(torch.tensor([0.1, 0.2]), 0.75).tolist() == [0, 1]


def probabilities(person_logits, action_logits):
    """Tensor mode's raw logits as the probabilities ``predict`` reports: the person column of
    the softmax, and the action sigmoids with column 0 unused."""
    return person_logits.softmax(-1)[..., 0], F.pad(action_logits.sigmoid(), (1, 0))


def test_tensor_mode_shapes(batch):
    detector = build()
    detector.eval()
    data = preprocess(detector, batch, False)
    with torch.no_grad():
        boxes, person_logits, action_logits = detector(data['inputs'], mode='tensor')
    num_proposals = detector.localization_head.num_proposals
    assert boxes.shape == (2, num_proposals, 4)
    assert person_logits.shape == (2, num_proposals, 2)  # person, no-object
    assert action_logits.shape == (2, num_proposals, 80)


def test_tensor_mode_is_the_raw_forwards_of_the_heads(batch):
    """mode='tensor' composes the heads' forwards: the last stage's boxes as predicted (not
    clipped), its logits, and the last decoder layer's logits of every proposal; predict's
    outputs are those, post-processed and selected."""
    detector = build(person_score_thr=0.)
    detector.eval()
    data = preprocess(detector, batch, False)
    samples = data['data_samples']
    with torch.no_grad():
        boxes, person_logits, action_logits = detector(**data, mode='tensor')
        feats, fpn_feats = detector.extract_feat(data['inputs'])
        stage_logits, stage_bboxes = detector.localization_head(fpn_feats, samples)
        layer_logits = detector.roi_head.forward_actions(feats, list(stage_bboxes[-1]),
                                                         [s.metainfo for s in samples])
        results = detector(**preprocess(detector, batch, False), mode='predict')
    assert torch.equal(boxes, stage_bboxes[-1]) and torch.equal(person_logits, stage_logits[-1])
    assert torch.equal(action_logits, torch.stack(layer_logits[-1]))
    person_scores, action_scores = probabilities(person_logits, action_logits)
    for b, (sample, result) in enumerate(zip(samples, results)):
        h, w = sample.img_shape
        pred = result.pred_instances  # every proposal: the threshold is 0
        assert torch.allclose(pred.person_scores, person_scores[b])
        assert torch.allclose(pred.scores, action_scores[b])
        clipped = clip_bboxes(boxes[b], (h, w))
        assert torch.allclose(pred.bboxes, clipped / clipped.new_tensor([w, h, w, h]))


def test_person_nms_removes_duplicates_and_is_off_by_default(batch):
    boxes = torch.tensor([[0., 0., 10., 20.], [1., 0., 11., 20.], [30., 0., 40., 20.]])
    scores = torch.tensor([0.8, 0.9, 0.75])  # boxes 0 and 1: IoU 0.82
    detector = build()
    # docs/official_behaviours.md#d9: the released models have no NMS
    assert detector.person_nms_iou_thr is None
    assert detector.select_persons(scores, bboxes=boxes).tolist() == [0, 1, 2]
    detector.person_nms_iou_thr = 0.5
    assert detector.select_persons(scores, bboxes=boxes).tolist() == [1, 2]
    assert detector.select_persons(scores, 0.85, boxes).tolist() == [1]
    detector.person_nms_iou_thr = 0.9
    assert sorted(detector.select_persons(scores, bboxes=boxes).tolist()) == [0, 1, 2]
    with pytest.raises(ValueError, match='needs the proposal boxes'):
        detector.select_persons(scores)
    # end to end: every proposal passes the score threshold, and no two kept boxes overlap by
    # more than the NMS IoU
    from mmdet.structures.bbox import bbox_overlaps
    detector = build(person_score_thr=0., person_nms_iou_thr=0.3).eval()
    with torch.no_grad():
        samples = detector(**preprocess(detector, batch, False), mode='predict')
        boxes, _, _ = detector(**preprocess(detector, batch, False), mode='tensor')
    for sample, proposals in zip(samples, boxes):
        kept = sample.pred_instances.bboxes
        assert 0 < len(kept) < len(proposals)
        overlaps = bbox_overlaps(kept, kept).fill_diagonal_(0)
        assert overlaps.max() <= 0.3


def test_output_boxes_are_clipped_to_the_last_pixel_where_they_are_formed():
    """docs/algorithm.md#test-output: the localization head's boxes cross the border; EVAD's
    output clips them to [0, w - 1] x [0, h - 1], and the person NMS sees the clipped boxes."""
    proposal = InstanceData(
        bboxes=torch.tensor([[-5., 14., 60., 30.], [0., 0., 40., 10.], [0., 0., 1000., 10.]]),
        scores=torch.tensor([0.9, 0.8, 0.95]))
    actors = InstanceData(bboxes=torch.zeros(3, 4), scores=torch.rand(3, 5))
    img_meta = dict(img_shape=(24, 48))
    detector = build(person_score_thr=0.)
    result = detector.select_detections(proposal, actors, img_meta)
    assert torch.allclose(result.bboxes, torch.tensor([[0., 14 / 24, 47 / 48, 23 / 24],
                                                       [0., 0., 40 / 48, 10 / 24],
                                                       [0., 0., 47 / 48, 10 / 24]]))
    assert torch.equal(result.scores, actors.scores)
    assert torch.equal(proposal.bboxes[2], torch.tensor([0., 0., 1000., 10.]))  # untouched
    # unclipped, boxes 1 and 2 overlap by 0.04; clipped, by 40 / 47 > 0.5
    detector.person_nms_iou_thr = 0.5
    result = detector.select_detections(proposal, actors, img_meta)
    assert torch.equal(result.person_scores, torch.tensor([0.95, 0.9]))
    flipped = detector.select_detections(proposal, actors, dict(img_shape=(24, 48), flip=True))
    assert torch.allclose(flipped.bboxes[1], torch.tensor([1 / 48, 14 / 24, 1., 23 / 24]))


def test_action_scores_times_person_is_off_by_default(batch):
    proposal = InstanceData(bboxes=torch.tensor([[0., 0., 10., 20.], [30., 0., 40., 20.]]),
                            scores=torch.tensor([0.8, 0.5]))
    actors = InstanceData(bboxes=proposal.bboxes.clone(),
                          scores=torch.tensor([[0., 0.5, 1.0], [0., 0.4, 0.2]]))
    detector = build(person_score_thr=0.)
    # docs/official_behaviours.md#d9: the released models do not multiply
    assert not detector.action_scores_times_person
    img_meta = dict(img_shape=(24, 48))
    result = detector.select_detections(proposal, actors, img_meta)
    assert torch.equal(result.scores, actors.scores)
    detector.action_scores_times_person = True
    result = detector.select_detections(proposal, actors, img_meta)
    assert torch.allclose(result.scores, torch.tensor([[0., 0.4, 0.8], [0., 0.2, 0.1]]))
    assert torch.equal(actors.scores[0], torch.tensor([0., 0.5, 1.0]))  # input untouched
    assert detector.select_detections(proposal, actors, img_meta, 0.7).scores.shape == (1, 3)
    # end to end: predict's scores are the plain model's times the kept person scores
    plain = build(person_score_thr=0.).eval()
    weighted = build(person_score_thr=0., action_scores_times_person=True).eval()
    weighted.load_state_dict(plain.state_dict())
    with torch.no_grad():
        expected = plain(**preprocess(plain, batch, False), mode='predict')
        got = weighted(**preprocess(weighted, batch, False), mode='predict')
        _, person_logits, action_logits = plain(**preprocess(plain, batch, False), mode='tensor')
    person_scores, _ = probabilities(person_logits, action_logits)
    for e, g, p in zip(expected, got, person_scores):
        assert torch.allclose(g.pred_instances.scores[:, 1:],
                              e.pred_instances.scores[:, 1:] * p[:, None], atol=1e-6)


@pytest.mark.parametrize('change, error, match', [
    (dict(loss_reduction='avg'), ValueError, 'loss_reduction'),
    (dict(person_score_thr=7), ValueError, 'person_score_thr'),
    (dict(loss_divisor=0), ValueError, 'loss_divisor must be a positive number'),
    (dict(person_nms_iou_thr=0.), ValueError, 'person_nms_iou_thr is an IoU'),
    # padded sizes must be multiples of the stride-32 maps' stride (issue 15)
    (dict(data_preprocessor=dict(pad_size_divisor=8)), ValueError,
     r'pad_size_divisor=8 is not a multiple of .* largest stride 32'),
    (dict(data_preprocessor=dict(pad_size_divisor=48)), ValueError, 'largest stride 32'),
])
def test_bad_settings_are_refused(change, error, match):
    with pytest.raises(error, match=match):
        MODELS.build(tiny_evad_cfg(**change))


def test_backbone_must_keep_its_tokens(batch):
    detector = build(backbone=dict(out_type='dense'))
    with pytest.raises(TypeError, match="out_type='evad'"):
        detector(**preprocess(detector, batch, True), mode='loss')


@pytest.mark.parametrize('roi_layer', ['RoIAlign', 'SeparableRoIAlign'])
def test_a_nan_clip_leaves_the_other_clip_unchanged(batch, roi_layer):
    """In eval, a clip with NaN/Inf pixels gets NaN outputs; the other clip of the batch gets
    exactly what it gets next to a clean clip (mmdet's extractor spread the NaN to all)."""
    layer = dict(type=roi_layer, output_size=7, sampling_ratio=2, aligned=True)
    detector = build(localization_head=dict(bbox_roi_extractor=dict(roi_layer=layer)),
                     roi_head=dict(roi_layer=layer)).eval()
    data = preprocess(detector, batch, False)
    broken = data['inputs'].clone()
    broken[0, :, 3, 10:20, 10:20] = float('nan')
    broken[0, :, 5, 0, 0] = float('inf')
    with torch.no_grad():
        clean = detector(data['inputs'], copy.deepcopy(data['data_samples']), mode='tensor')
        out = detector(broken, copy.deepcopy(data['data_samples']), mode='tensor')
    for clean_part, out_part in zip(clean, out):  # boxes, person scores, action scores
        assert not torch.isfinite(out_part[0]).all()
        assert torch.equal(out_part[1], clean_part[1])
