"""QueryLocalizationHead (docs/algorithm.md#localization), built from the ViT-B model config,
shrunk."""
import math

import pytest
import torch
from _utils import tiny_localization_cfgs
from mmengine.structures import InstanceData

from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmevad.models.dense_heads import QueryLocalizationHead
from mmevad.models.dense_heads import query_localization_head as qlh_module

CHANNELS = 32
STRIDES = (4, 8, 16, 32)


def tiny_model_cfg(num_stages=2, num_proposals=4, **head_options):
    """The neck and head of the ViT-B model config with tiny widths: (neck cfg, head cfg)."""
    return tiny_localization_cfgs(channels=CHANNELS, in_channels=CHANNELS, num_stages=num_stages,
                                  num_proposals=num_proposals, **head_options)


def build_head(**kwargs) -> QueryLocalizationHead:
    head = MODELS.build(tiny_model_cfg(**kwargs)[1])
    head.init_weights()
    return head


def fpn_feats(batch_size, pad_hw=(64, 64), seed=0):
    """Random p2..p5 maps of a batch padded to ``pad_hw``."""
    gen = torch.Generator().manual_seed(seed)
    return tuple(
        torch.randn(batch_size, CHANNELS, pad_hw[0] // s, pad_hw[1] // s, generator=gen)
        for s in STRIDES)


def sample(img_shape, bboxes=None):
    """An ActionDataSample as the AVA pipeline makes it; labels are multi-hot (N, 81)."""
    data_sample = ActionDataSample()
    data_sample.set_metainfo(dict(img_shape=img_shape))
    if bboxes is not None:
        bboxes = torch.tensor(bboxes, dtype=torch.float32).reshape(-1, 4)
        labels = torch.zeros(len(bboxes), 81)
        labels[:, 12] = 1
        data_sample.gt_instances = InstanceData(bboxes=bboxes, labels=labels)
    return data_sample


def pin_outputs(head, proposals_cxcywh, logits=(0.3, -0.2)):
    """Make every stage predict zero deltas and the same logits, so every stage's boxes are
    the proposals (normalised cxcywh (P, 4)) and the losses can be computed by hand."""
    with torch.no_grad():
        head.proposal_generator.init_proposal_bboxes.weight.copy_(torch.tensor(proposals_cxcywh))
        for stage in head.bbox_head:
            stage.fc_reg.weight.zero_()
            stage.fc_reg.bias.zero_()
            stage.fc_cls.weight.zero_()
            stage.fc_cls.bias.copy_(torch.tensor(logits))


def giou(a, b):
    """Generalised IoU of two xyxy boxes given as lists, written out."""
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    inter = max(0., min(a[2], b[2]) - max(a[0], b[0])) * max(0., min(a[3], b[3]) - max(a[1], b[1]))
    union = area_a + area_b - inter
    hull = (max(a[2], b[2]) - min(a[0], b[0])) * (max(a[3], b[3]) - min(a[1], b[1]))
    return inter / union - (hull - union) / hull


# proposals in normalised cxcywh; in a 64x64 image: p0 (8, 8, 24, 24), p1 (40, 16, 56, 48),
# p2 the whole image, p3 (16, 40, 48, 56)
PROPOSALS = [[0.25, 0.25, 0.25, 0.25], [0.75, 0.5, 0.25, 0.5], [0.5, 0.5, 1.0, 1.0],
             [0.5, 0.75, 0.5, 0.25]]


def test_config_builds_fpn_and_head_with_stage_keys_and_shapes():
    neck_cfg, head_cfg = tiny_model_cfg(num_stages=3, num_proposals=5)
    neck, head = MODELS.build(neck_cfg), MODELS.build(head_cfg)
    neck.init_weights()
    head.init_weights()
    keyframe_maps = tuple(torch.randn(2, CHANNELS, 64 // s, 96 // s) for s in STRIDES)
    feats = neck(keyframe_maps)
    assert len(feats) == 4 and feats[0].shape == (2, CHANNELS, 16, 24)
    data_samples = [sample((64, 90), [[10, 10, 40, 50]]), sample((60, 96), [[0, 5, 30, 59]])]

    losses, results = head.loss_and_predict(feats, data_samples)

    expected = {f's{i}.{name}' for i in range(3)
                for name in ('loss_cls', 'loss_bbox', 'loss_giou', 'pos_acc')}
    assert set(losses) == expected
    assert all(v.dim() == 0 and torch.isfinite(v) for v in losses.values())
    assert len(head.bbox_head) == 3
    for result in results:
        assert result.bboxes.shape == (5, 4) and not result.bboxes.requires_grad
        assert result.scores.shape == (5, )
        assert result.assigned_gt_inds.dtype == torch.long
        # one GT per image: exactly one proposal is matched to it
        assert sorted(result.assigned_gt_inds.tolist()) == [-1, -1, -1, -1, 0]


def test_init_follows_spec():
    head = build_head(num_proposals=6)
    boxes = head.proposal_generator.init_proposal_bboxes.weight
    assert torch.equal(boxes, torch.tensor([[0.5, 0.5, 1.0, 1.0]]).expand(6, 4))
    features = head.proposal_generator.init_proposal_features.weight
    assert abs(features.mean()) < 0.3 and 0.8 < features.std() < 1.2  # N(0, 1), 192 draws
    stage = head.bbox_head[1]
    dynamic = stage.instance_interactive_conv.dynamic_layer.weight  # (2*32*16, 32)
    xavier_bound = math.sqrt(6 / sum(dynamic.shape))
    assert dynamic.abs().max() <= xavier_bound < 1 / math.sqrt(dynamic.size(1))
    # final-layer biases keep PyTorch's Linear init (mmdet's BBoxHead would zero them)
    for layer in (stage.fc_cls, stage.fc_reg):
        assert layer.bias.abs().max() > 0
        assert layer.bias.abs().max() <= 1 / math.sqrt(CHANNELS)


def test_proposal_on_gt_is_matched_with_zero_box_losses():
    head = build_head()
    pin_outputs(head, PROPOSALS)
    data_samples = [sample((64, 64), [[40, 16, 56, 48]])]  # exactly p1

    losses, results = head.loss_and_predict(fpn_feats(1), data_samples)

    assert results[0].assigned_gt_inds.tolist() == [-1, 0, -1, -1]
    for stage in range(2):
        assert losses[f's{stage}.loss_bbox'].item() == pytest.approx(0, abs=1e-6)
        assert losses[f's{stage}.loss_giou'].item() == pytest.approx(0, abs=1e-6)


def test_losses_equal_hand_computation():
    head = build_head()
    head.stage_loss_weights = [1.0, 0.5]
    a, b = 0.3, -0.2
    pin_outputs(head, PROPOSALS, logits=(a, b))
    gt_a = [[10, 10, 10, 30],  # zero width: dropped before matching
            [10, 8, 26, 24],  # next to p0 = (8, 8, 24, 24)
            [40, 16, 56, 48]]  # exactly p1
    gt_b = [[14, 28, 50, 42]]  # image 48 high, 64 wide: p3 = (16, 30, 48, 42)
    data_samples = [sample((64, 64), gt_a), sample((48, 64), gt_b), sample((64, 64), [])]

    losses, results = head.loss_and_predict(fpn_feats(3), data_samples)

    # matching: indices into each image's own gt_instances (the zero-width box is #0)
    assert results[0].assigned_gt_inds.tolist() == [1, 2, -1, -1]
    assert results[1].assigned_gt_inds.tolist() == [-1, -1, -1, 0]
    assert results[2].assigned_gt_inds.tolist() == [-1, -1, -1, -1]

    # 3 matched proposals (person, weight 1), 9 unmatched (no-object, weight 0.1)
    ce_person = math.log(1 + math.exp(b - a))
    ce_no_object = math.log(1 + math.exp(a - b))
    loss_cls = 2.0 * (3 * 1.0 * ce_person + 9 * 0.1 * ce_no_object) / (3 * 1.0 + 9 * 0.1)
    num_boxes = 3
    l1 = ((2 + 0 + 2 + 0) / 64  # p0 vs gt_a[1], image 64x64
          + 0  # p1 vs gt_a[2]
          + 2 / 64 + 2 / 48 + 2 / 64 + 0 / 48)  # p3 vs gt_b[0], image 48 high, 64 wide
    loss_bbox = 5.0 * l1 / num_boxes
    loss_giou = 2.0 * ((1 - giou([8, 8, 24, 24], gt_a[1])) + (1 - giou([40, 16, 56, 48], gt_a[2]))
                       + (1 - giou([16, 30, 48, 42], gt_b[0]))) / num_boxes
    for stage, weight in ((0, 1.0), (1, 0.5)):
        assert losses[f's{stage}.loss_cls'].item() == pytest.approx(weight * loss_cls, rel=1e-5)
        assert losses[f's{stage}.loss_bbox'].item() == pytest.approx(weight * loss_bbox, rel=1e-5)
        assert losses[f's{stage}.loss_giou'].item() == pytest.approx(weight * loss_giou, rel=1e-5)
        assert losses[f's{stage}.pos_acc'].item() == pytest.approx(100.0)  # metric: no weight

    # scores: person probability of the pinned logits, boxes the proposals (pixels, detached)
    assert torch.allclose(results[1].scores, torch.full((4, ), 1 / (1 + math.exp(b - a))))
    assert torch.allclose(results[1].bboxes[3], torch.tensor([16., 30., 48., 42.]))


def test_matches_per_gt_matches_each_person_to_k_proposals():
    head = build_head()
    head.matches_per_gt = 2
    pin_outputs(head, PROPOSALS)
    gt = [40, 16, 56, 48]  # exactly p1; p3 = (16, 40, 48, 56) is the next cheapest match
    data_samples = [sample((64, 64), [gt]), sample((64, 64), [])]

    losses, results = head.loss_and_predict(fpn_feats(2), data_samples)

    # both copies of the person point back to gt_instances index 0
    assert results[0].assigned_gt_inds.tolist() == [-1, 0, -1, 0]
    assert results[1].assigned_gt_inds.tolist() == [-1, -1, -1, -1]
    # box losses: the sum over the 2 matches divided by 2 x 1 person
    loss_bbox = 5.0 * ((40 - 16) + (40 - 16) + (56 - 48) + (56 - 48)) / 64 / 2
    loss_giou = 2.0 * ((1 - 1) + (1 - giou([16, 40, 48, 56], gt))) / 2
    assert losses['s1.loss_bbox'].item() == pytest.approx(loss_bbox, rel=1e-5)
    assert losses['s1.loss_giou'].item() == pytest.approx(loss_giou, rel=1e-5)


def test_denoising_queries_recover_their_own_person(monkeypatch):
    head = build_head(num_stages=2)
    head_dn = build_head(num_stages=2, denoising_groups=2)
    assert not any('denoising' in key for key in head.state_dict())  # off: as EVAD
    head_dn.load_state_dict(head.state_dict(), strict=False)
    a, b = 0.3, -0.2
    pin_outputs(head, PROPOSALS, logits=(a, b))
    pin_outputs(head_dn, PROPOSALS, logits=(a, b))
    gt = [[10, 8, 26, 24], [40, 16, 56, 48]]
    # the 2 x 2 jittered queries, image-major: copies of gt[0], gt[1], gt[0], gt[1]
    jittered = torch.tensor([[8., 8, 24, 24], [40, 16, 56, 48], [10, 10, 30, 30],
                             [36, 20, 56, 44]])
    monkeypatch.setattr(head_dn.denoising, 'jitter', lambda boxes, img_wh: jittered)
    data_samples = [sample((64, 64), gt)]

    plain, plain_results = head.loss_and_predict(fpn_feats(1), data_samples)
    losses, results = head_dn.loss_and_predict(fpn_feats(1), data_samples)

    # the matched branch and the results do not see the denoising queries
    for key, value in plain.items():
        assert losses[key].item() == pytest.approx(value.item(), rel=1e-6)
    assert torch.equal(results[0].bboxes, plain_results[0].bboxes)
    # zero deltas: every stage returns the jittered boxes; each is scored against its own GT
    targets = gt + gt
    l1 = sum(sum(abs(p - t) for p, t in zip(box, target)) / 64
             for box, target in zip(jittered.tolist(), targets))
    gious = sum(1 - giou(box, target) for box, target in zip(jittered.tolist(), targets))
    ce_person = math.log(1 + math.exp(b - a))
    for stage in range(2):
        assert losses[f's{stage}.dn_loss_cls'].item() == pytest.approx(2.0 * ce_person, rel=1e-5)
        assert losses[f's{stage}.dn_loss_bbox'].item() == pytest.approx(5.0 * l1 / 4, rel=1e-5)
        assert losses[f's{stage}.dn_loss_giou'].item() == pytest.approx(2.0 * gious / 4, rel=1e-5)


def test_denoising_jitter_stays_within_the_noise_and_the_image():
    head = build_head(denoising_groups=1, denoising_noise=0.4)
    boxes = torch.tensor([[10., 8, 26, 24], [0, 0, 40, 60]]).repeat(500, 1)
    torch.manual_seed(0)
    jittered = head.denoising.jitter(boxes, torch.tensor([[64., 64]]).expand(len(boxes), 2))
    size, centre = boxes[:, 2:] - boxes[:, :2], (boxes[:, :2] + boxes[:, 2:]) / 2
    inside = boxes[:, 0] > 0  # the first box cannot reach the border: no clipping
    new_size = jittered[inside, 2:] - jittered[inside, :2]
    new_centre = (jittered[inside, :2] + jittered[inside, 2:]) / 2
    ratio = new_size / size[inside]
    shift = (new_centre - centre[inside]).abs() / size[inside]
    assert ratio.min() >= 0.6 - 1e-5 and ratio.max() <= 1.4 + 1e-5
    assert ratio.min() < 0.65 and ratio.max() > 1.35  # the whole range is drawn
    assert shift.max() <= 0.2 + 1e-5 and shift.max() > 0.18
    assert jittered.min() >= 0 and jittered.max() <= 63


def test_denoising_without_persons_gives_zero_connected_losses():
    head = build_head(denoising_groups=2)
    losses, _ = head.loss_and_predict(fpn_feats(1), [sample((64, 64), [])])
    dn = {key: value for key, value in losses.items() if '.dn_' in key}
    assert len(dn) == 2 * 3 and all(value.item() == 0 for value in dn.values())
    sum(dn.values()).backward()
    assert head.denoising.feature.grad is not None


def test_box_losses_are_normalised_by_global_gt_count(monkeypatch):
    head = build_head()
    data_samples = [sample((64, 64), [[10, 8, 26, 24], [30, 30, 60, 62]])]
    feats = fpn_feats(1)
    local, _ = head.loss_and_predict(feats, data_samples)
    # another rank with 6 GT boxes: the all-reduced mean count is (2 + 6) / 2 = 4
    monkeypatch.setattr(qlh_module, 'reduce_mean', lambda count: (count + 6) / 2)
    global_, _ = head.loss_and_predict(feats, data_samples)
    for name in ('s0.loss_bbox', 's1.loss_giou'):
        assert global_[name].item() == pytest.approx(local[name].item() / 2, rel=1e-5)
    assert global_['s0.loss_cls'].item() == pytest.approx(local['s0.loss_cls'].item())


def test_gradients_reach_every_parameter_and_the_learned_proposals():
    head = build_head()
    data_samples = [sample((64, 64), [[10, 8, 26, 24], [30, 30, 60, 62]]),
                    sample((48, 40), [[0, 0, 20, 47]])]
    losses, _ = head.loss_and_predict(fpn_feats(2), data_samples)
    sum(v for k, v in losses.items() if 'loss' in k).backward()

    for name, param in head.named_parameters():
        assert param.grad is not None, f'{name} got no gradient'
    proposals = head.proposal_generator
    assert proposals.init_proposal_bboxes.weight.grad.abs().sum() > 0
    assert proposals.init_proposal_features.weight.grad.abs().sum() > 0


def test_later_stages_get_detached_boxes():
    head = build_head()
    data_samples = [sample((64, 64), [[10, 8, 26, 24]])]
    losses, _ = head.loss_and_predict(fpn_feats(1), data_samples)
    losses['s1.loss_bbox'].backward()
    # stage 1 refines stage 0's boxes without back-propagating into how they were made
    assert head.bbox_head[0].fc_reg.weight.grad is None
    assert head.proposal_generator.init_proposal_bboxes.weight.grad is None
    assert head.bbox_head[1].fc_reg.weight.grad.abs().sum() > 0
    # the proposal features stay attached across stages
    assert head.proposal_generator.init_proposal_features.weight.grad.abs().sum() > 0


def test_no_gt_and_degenerate_gt_give_finite_connected_losses():
    head = build_head()
    a, b = 0.3, -0.2
    pin_outputs(head, PROPOSALS, logits=(a, b))
    degenerate = [[10, 10, 10, 20], [5, 30, 40, 30]]  # zero width, zero height
    data_samples = [sample((64, 64), []), sample((48, 64), degenerate)]

    losses, results = head.loss_and_predict(fpn_feats(2), data_samples)

    for stage in range(2):
        # every proposal is no-object: the weighted mean is the plain mean of identical CEs
        assert losses[f's{stage}.loss_cls'].item() == pytest.approx(
            2.0 * math.log(1 + math.exp(a - b)), rel=1e-5)
        for name in ('loss_bbox', 'loss_giou'):
            loss = losses[f's{stage}.{name}']
            assert loss.item() == 0 and loss.requires_grad
    assert all(v.isfinite() for v in losses.values())
    sum(v for k, v in losses.items() if 'loss' in k).backward()  # a graph to back-propagate
    for result in results:
        assert (result.assigned_gt_inds == -1).all()


def test_box_update_uses_weights_2_2_1_1_and_the_spec_clamp():
    head = build_head()
    pin_outputs(head, [[0.5, 0.5, 1.0, 1.0]] * 4)  # whole image; zero deltas in every stage
    data_samples = [sample((48, 64), [[0, 0, 10, 10]])]
    with torch.no_grad():  # raw deltas (d0, d1, d2, d3) of stage 0, the same for every proposal
        head.bbox_head[0].fc_reg.bias.copy_(
            torch.tensor([0.2, -0.4, math.log(0.5), math.log(0.75)]))
    _, results = head.loss_and_predict(fpn_feats(1), data_samples)
    # from (0, 0, 64, 48): centre + (d0 / 2 * w, d1 / 2 * h), size * (exp(d2), exp(d3))
    cx, cy, w, h = 32 + 0.1 * 64, 24 - 0.2 * 48, 64 * 0.5, 48 * 0.75
    expected = torch.tensor([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    assert torch.allclose(results[0].bboxes, expected.expand(4, 4), atol=1e-4)

    # dw clamped from above at log(100000 / 16), as EVAD (mmdet's default: log(1000 / 16))
    with torch.no_grad():
        head.bbox_head[0].fc_reg.bias.copy_(torch.tensor([0.0, 0.0, 20.0, 0.0]))
    _, results = head.loss_and_predict(fpn_feats(1), data_samples)
    widths = results[0].bboxes[:, 2] - results[0].bboxes[:, 0]
    assert torch.allclose(widths, torch.full((4, ), 64 * 100000 / 16), rtol=1e-4)


def head_growing_boxes_past_the_border(num_proposals):
    """A head whose regression outputs only its biases: the whole-image proposals stay until the
    last stage, which grows every box e-fold, past the image border."""
    head = build_head(num_proposals=num_proposals)
    with torch.no_grad():
        for stage in head.bbox_head:
            stage.fc_reg.weight.zero_()
            stage.fc_reg.bias.zero_()
        head.bbox_head[-1].fc_reg.bias.copy_(torch.tensor([0.0, 0.0, 1.0, 1.0]))
    return head


def test_predict_returns_the_last_stage_boxes_as_predicted_and_probabilities():
    """One kind of box, in training and test alike: the last stage's pixel boxes, not clipped
    (the RoI extension enlarges them as predicted, docs/algorithm.md#roi-extension; EVAD clips
    the boxes it outputs, docs/algorithm.md#test-output)."""
    head = head_growing_boxes_past_the_border(num_proposals=6)
    img_shapes = [(64, 64), (48, 40)]
    data_samples = [sample(s) for s in img_shapes]
    feats = fpn_feats(2)

    head.eval()
    with torch.no_grad():
        results = head.predict(feats, data_samples)
        cls_scores, raw_bboxes = head(feats, data_samples)

    for result, (h, w), raw, logits in zip(results, img_shapes, raw_bboxes[-1], cls_scores[-1]):
        assert 'assigned_gt_inds' not in result
        assert sorted(result.keys()) == ['bboxes', 'scores']
        assert result.bboxes.shape == (6, 4) and result.scores.shape == (6, )
        assert ((result.scores >= 0) & (result.scores <= 1)).all()
        assert torch.allclose(result.scores, logits.softmax(-1)[:, 0])
        assert (raw[:, 2] > w - 1).any()  # the boxes cross the border
        assert torch.equal(result.bboxes, raw)

@pytest.mark.parametrize('change, match', [
    (dict(stage_loss_weights=[1.0]), 'stage_loss_weights'),
    (dict(num_stages=0), 'num_stages'),
    (dict(proposal_feature_channel=16), 'proposal_feature_channel'),
    (dict(matches_per_gt=0), 'matches_per_gt'),
    (dict(matches_per_gt=5), 'matches_per_gt'),
    (dict(denoising_groups=-1), 'denoising_groups'),
    (dict(denoising_groups=1, denoising_noise=1.5), 'denoising_noise'),
])
def test_bad_head_config_raises(change, match):
    _, cfg = tiny_model_cfg()
    cfg.update(change)
    with pytest.raises(ValueError, match=match):
        MODELS.build(cfg)


@pytest.mark.parametrize('change, match', [
    (dict(num_classes=2), 'num_classes=1'),
    (dict(loss_cls=dict(type='FocalLoss', use_sigmoid=True, loss_weight=2.0)), 'softmax'),
])
def test_bad_stage_config_raises(change, match):
    _, cfg = tiny_model_cfg()
    for key, value in change.items():
        cfg.bbox_head[key] = value  # replace, not merge
    with pytest.raises(ValueError, match=match):
        MODELS.build(cfg)


def test_stage_list_of_wrong_length_raises():
    _, cfg = tiny_model_cfg(num_stages=2)
    cfg.bbox_head = [cfg.bbox_head] * 3
    with pytest.raises(ValueError, match='one config per stage'):
        MODELS.build(cfg)


def test_bad_inputs_raise():
    head = build_head()
    with pytest.raises(ValueError, match='2 data samples'):
        head.predict(fpn_feats(1), [sample((64, 64)), sample((64, 64))])
    with pytest.raises(ValueError, match='channels'):
        head.predict(tuple(f[:, :16] for f in fpn_feats(1)), [sample((64, 64))])
    with pytest.raises(ValueError, match='gt_instances'):
        head.loss_and_predict(fpn_feats(1), [sample((64, 64))])
    _, cfg = tiny_model_cfg()
    cfg.train_cfg = None
    untrained = MODELS.build(cfg)
    with pytest.raises(ValueError, match='train_cfg'):
        untrained.loss_and_predict(fpn_feats(1), [sample((64, 64), [[0, 0, 9, 9]])])


def test_ignored_degenerate_gt_is_said_once():
    """Training used to drop zero-area ground truth without a word (issue 15)."""
    from unittest import mock

    from mmengine.logging import MMLogger
    head = build_head()
    data_samples = [sample((64, 64), [[10, 10, 10, 20], [5, 5, 30, 40]]),
                    sample((48, 64), [[5, 30, 40, 30]])]
    with mock.patch.object(MMLogger.get_current_instance(), 'warning') as warning:
        head.loss_and_predict(fpn_feats(2), data_samples)
        head.loss_and_predict(fpn_feats(2), data_samples)
    warning.assert_called_once()
    assert 'ignores 1 ground-truth boxes with zero or negative width' in warning.call_args[0][0]
    assert 'check_dataset.py' in warning.call_args[0][0]


def test_mmdet_parts_are_built_in_mmdet_scope_without_naming_it():
    """Both heads build their mmdet parts one way (build_in_mmdet_scope): mmdet's scope unless
    the config names another; the configs' explicit _scope_='mmdet' changes nothing."""
    _, cfg = tiny_model_cfg()
    for part in (cfg.bbox_head, cfg.train_cfg.assigner):
        assert part.pop('_scope_') == 'mmdet'
    cfg.bbox_roi_extractor.update(type='SingleRoIExtractor')
    cfg.bbox_roi_extractor.pop('_scope_')
    torch.manual_seed(0)
    head = MODELS.build(cfg)
    _, scoped = tiny_model_cfg()
    scoped.bbox_roi_extractor.update(type='SingleRoIExtractor', _scope_='mmdet')
    torch.manual_seed(0)
    reference = MODELS.build(scoped)
    assert type(head.assigner).__name__ == 'HungarianAssigner'
    assert type(head.bbox_roi_extractor) is type(reference.bbox_roi_extractor)
    assert [type(h) for h in head.bbox_head] == [type(h) for h in reference.bbox_head]
    for (name, a), (_, b) in zip(head.state_dict().items(), reference.state_dict().items()):
        assert torch.equal(a, b), name


def test_checkpoints_with_the_former_denoising_key_still_load():
    """The denoising feature was the head's `denoising_feature` (an nn.Embedding) before it moved
    into BoxDenoising; such checkpoints load into the new place."""
    head = build_head(denoising_groups=2)
    state = head.state_dict()
    feature = torch.randn_like(state['denoising.feature'])
    state['denoising_feature.weight'] = feature
    del state['denoising.feature']
    head.load_state_dict(state)  # strict
    assert torch.equal(head.denoising.feature.detach(), feature)
