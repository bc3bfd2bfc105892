"""ContextRefinementRoIHead (docs/algorithm.md#context-refinement): targets, losses, predictions,
inputs and registry."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmdet.registry import MODELS as MMDET_MODELS
from mmdet.structures.bbox import bbox_overlaps
from mmengine.structures import InstanceData

from mmevad.models.roi_heads import ContextRefinementRoIHead, extend_bboxes
from mmevad.structures import TokenPruningOutput

CE, CD, K = 32, 32, 5
GRID = (4, 4, 4)  # t, h, w: 64 x 64 pixels at stride 16
IMG = (64, 64)


def build_head(**kwargs):
    cfg = dict(type='ContextRefinementRoIHead', in_channels=CE, embed_dims=CD, depth=2,
               num_heads=2, num_classes=K, action_hidden_dims=16, pos_embed_grid=(4, 14, 14),
               action_loss_weight=3.)
    cfg.update(kwargs)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def pruned_output(B=2, kept=10, seed=0):
    torch.manual_seed(seed)
    t, h, w = GRID
    kept_index = torch.stack([torch.randperm((t - 1) * h * w)[:kept] for _ in range(B)])
    return TokenPruningOutput(None, torch.randn(B, h * w + kept, CE), kept_index, GRID)


def sample(gt_boxes, gt_classes, img_shape=IMG):
    labels = torch.zeros(len(gt_boxes), K + 1)
    for row, classes in enumerate(gt_classes):
        labels[row, classes] = 1
    data_sample = ActionDataSample()
    data_sample.set_metainfo(dict(img_shape=img_shape))
    data_sample.gt_instances = InstanceData(
        bboxes=torch.tensor(gt_boxes, dtype=torch.float32).reshape(-1, 4), labels=labels)
    return data_sample


BOXES = [[2., 3., 30., 40.], [20., 10., 60., 62.], [40., 40., 50., 50.]]


def evad_proposals(assigned, boxes=BOXES):
    return InstanceData(bboxes=torch.tensor(boxes), assigned_gt_inds=torch.tensor(assigned))


def two_images():
    samples = [sample([[0., 0., 30., 40.], [20., 10., 60., 60.]], [[1, 3], [2]]),
               sample([[10., 10., 50., 50.]], [[5]])]
    proposals = [evad_proposals([1, -1, 0]), evad_proposals([-1, 0, -1])]
    return samples, proposals


def test_registered_in_mmaction_and_mmdet():
    assert MODELS.get('ContextRefinementRoIHead') is ContextRefinementRoIHead
    assert MMDET_MODELS.get('ContextRefinementRoIHead') is ContextRefinementRoIHead


def test_loss_only_on_matched_proposals_for_every_layer():
    head = build_head(drop_path_rate=0.).eval()  # eval: no drop path, same logits twice
    x = pruned_output()
    samples, proposals = two_images()
    losses = head.loss(x, proposals, samples)
    assert sorted(losses) == ['d0.loss_action', 'd1.loss_action']

    logits = head(x, proposals, samples)  # per layer (6, K)
    assert len(logits) == 2
    matched = torch.tensor([True, False, True, False, True, False])
    # matched targets: image 0 rows 0 -> gt 1 ({2}), row 2 -> gt 0 ({1, 3}); image 1 row 1 -> {5}
    targets = torch.zeros(3, K)
    targets[0, 1] = targets[1, 0] = targets[1, 2] = targets[2, 4] = 1
    for layer, layer_logits in enumerate(logits):
        expected = 3. * F.binary_cross_entropy_with_logits(layer_logits[matched], targets)
        assert torch.allclose(losses[f'd{layer}.loss_action'], expected)
        # the unmatched rows would change the value: the test can tell them apart
        assert not torch.allclose(
            losses[f'd{layer}.loss_action'],
            3. * F.binary_cross_entropy_with_logits(layer_logits, torch.zeros(6, K)))


def test_unmatched_proposals_get_no_gradient_from_the_loss():
    head = build_head(drop_path_rate=0.).eval()
    x = pruned_output()
    samples, proposals = two_images()
    captured = []
    decoder_forward = head.decoder.forward

    def spy(context, actors):
        outs = decoder_forward(context, actors)
        for out in outs:
            out.retain_grad()
        captured.append(outs)
        return outs

    head.decoder.forward = spy
    sum(head.loss(x, proposals, samples).values()).backward()
    for outs, image_matched in zip(captured, ([True, False, True], [False, True, False])):
        for out in outs:  # (1, 3, K) per layer
            has_grad = out.grad[0].abs().sum(-1) > 0
            assert has_grad.tolist() == image_matched


def test_no_matched_proposal_gives_a_finite_loss_in_the_graph():
    head = build_head()
    x = pruned_output()
    samples = [sample([], []), sample([[0., 0., 20., 20.]], [[1]])]
    proposals = [evad_proposals([-1, -1, -1]), evad_proposals([-1, -1, -1])]
    losses = head.loss(x, proposals, samples)
    for loss in losses.values():
        assert torch.isfinite(loss) and loss.item() == 0 and loss.requires_grad
    sum(losses.values()).backward()
    missing = [n for n, p in head.named_parameters() if p.grad is None]
    assert not missing, f'not in the graph: {missing}'


def test_every_parameter_receives_a_gradient():
    head = build_head()
    x = pruned_output()
    samples, proposals = two_images()
    sum(head.loss(x, proposals, samples).values()).backward()
    missing = [n for n, p in head.named_parameters() if p.grad is None or not p.grad.any()]
    assert not missing, f'no gradient: {missing}'


def test_predict_layout_matches_avametric():
    head = build_head().eval()
    x = pruned_output()
    samples, proposals = two_images()
    proposals[1] = InstanceData(bboxes=torch.tensor([[-5., 10., 70., 30.], [1., 2., 3., 4.]]))
    with torch.no_grad():
        results = head.predict(x, proposals, samples, rescale=True)
        last = head(x, proposals, samples)[-1]
    assert [len(r) for r in results] == [3, 2]
    scores = torch.cat([r.scores for r in results])
    assert scores.shape == (5, K + 1)
    assert (scores[:, 0] == 0).all()
    assert torch.allclose(scores[:, 1:], last.sigmoid())
    # boxes: the given (un-extended) ones, clipped to the image and divided by its size
    assert torch.allclose(results[0].bboxes, torch.tensor(BOXES) / 64)
    assert torch.allclose(results[1].bboxes,
                          torch.tensor([[0., 10., 64., 30.], [1., 2., 3., 4.]]) / 64)
    assert set(results[0].keys()) == {'bboxes', 'scores'}


def test_extended_boxes_feed_the_pooling_only():
    head = build_head(roi_extension=(0.4, 0.2)).eval()
    x = pruned_output(B=1)
    data_samples = [sample([], [], img_shape=(60, 64))]
    proposals = [evad_proposals([-1, -1, -1])]
    seen = {}
    extractor_forward, decoder_forward = head.roi_extractor.forward, head.decoder.forward

    def extractor_spy(feats, rois):
        seen['rois'], seen['pooled'] = rois, extractor_forward(feats, rois)
        return seen['pooled']

    def decoder_spy(context, actors):
        seen['context'], seen['actors'] = context, actors
        return decoder_forward(context, actors)

    head.roi_extractor.forward, head.decoder.forward = extractor_spy, decoder_spy
    results = head.predict(x, proposals, data_samples)
    expected = extend_bboxes(torch.tensor(BOXES), (60, 64), (0.4, 0.2))
    assert torch.allclose(seen['rois'][:, 1:], expected)
    assert not torch.allclose(expected, torch.tensor(BOXES))
    unit = torch.tensor(BOXES).clamp(max=torch.tensor([64., 60., 64., 60.]))
    assert torch.allclose(results[0].bboxes, unit / torch.tensor([64., 60., 64., 60.]))
    # actor tokens enter the decoder as pooled (no extra position embedding), after the
    # context, which holds only the surviving tokens (16 keyframe + 10 kept), no mask tokens
    assert torch.equal(seen['actors'][0], seen['pooled'])
    assert seen['context'].shape == (1, 16 + 10, CD)


def test_no_gradient_flows_into_the_boxes():
    head = build_head()
    samples, _ = two_images()
    boxes = [torch.tensor(BOXES, requires_grad=True) for _ in range(2)]
    proposals = [InstanceData(bboxes=b, assigned_gt_inds=torch.tensor([0, -1, -1]))
                 for b in boxes]
    sum(head.loss(pruned_output(), proposals, samples).values()).backward()
    assert all(b.grad is None for b in boxes)


def test_batched_decoding_equals_one_image_at_a_time():
    """Images with different proposal counts are decoded in groups; no cross-talk."""
    head = build_head(drop_path_rate=0.).eval()
    torch.manual_seed(3)
    feats = torch.randn(3, CE, *GRID)
    samples = [sample([], []) for _ in range(3)]
    proposals = [InstanceData(bboxes=torch.tensor(BOXES[:n])) for n in (3, 1, 3)]
    with torch.no_grad():
        batched = head.predict(feats, proposals, samples)
        for i in range(3):
            alone = head.predict(feats[i:i + 1], proposals[i:i + 1], samples[i:i + 1])
            assert torch.allclose(batched[i].scores, alone[0].scores, atol=1e-5)


def test_dense_map_from_mmaction_vision_transformer():
    backbone = MODELS.build(
        dict(type='VisionTransformer', img_size=64, patch_size=16, embed_dims=CE, depth=2,
             num_heads=2, num_frames=8, use_mean_pooling=False, return_feat_map=True))
    head = build_head()
    feats = backbone(torch.randn(2, 3, 8, 64, 64))
    assert feats.shape == (2, CE, *GRID)
    samples, proposals = two_images()
    for x in (feats, (feats,)):  # bare, or wrapped as a one-level tuple
        losses = head.loss(x, proposals, samples)
        assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    assert backbone.blocks[0].attn.qkv.weight.grad.any()
    with torch.no_grad():
        results = head.predict(feats, proposals, samples)
    assert results[0].scores.shape == (3, K + 1)


def test_dense_map_uses_every_position_as_context():
    head = build_head()
    feats = torch.randn(1, CE, *GRID)
    dense, context = head.context_and_map(feats)
    assert dense.shape == (1, CD, *GRID) and context.shape == (1, 64, CD)
    # no mask token anywhere: the map is the projected features plus the table ...
    table = head._pos_embed(GRID)
    projected = head.encoder_to_decoder(feats.flatten(2).transpose(1, 2)) + table
    assert torch.allclose(dense.flatten(2).transpose(1, 2), projected, atol=1e-6)
    # ... and the context is every position, keyframe slot (2 of 4, 16 positions each) first
    order = torch.cat((torch.arange(32, 48), torch.arange(32), torch.arange(48, 64)))
    assert torch.allclose(context, projected[:, order], atol=1e-6)


@pytest.mark.parametrize('order', ['official', 'sorted'])
def test_kept_token_order_is_passed_to_the_remapping(order):
    head = build_head(kept_token_order=order)
    x = pruned_output(B=1, kept=5)
    dense, context = head.context_and_map(x)
    t, h, w = GRID
    assert dense.shape == (1, CD, t, h, w) and context.shape == (1, h * w + 5, CD)
    # kept token j sits at (its own / the j-th ascending) kept position
    kept = x.kept_index[0]
    positions = kept if order == 'sorted' else kept.sort().values
    flat = torch.where(positions < 2 * h * w, positions, positions + h * w)
    table = head._pos_embed(GRID)[0]
    projected = head.encoder_to_decoder(x.tokens[0, h * w:])
    dense_flat = dense[0].flatten(1).t()
    assert torch.allclose(dense_flat[flat], projected + table[flat], atol=1e-6)


def test_assigner_path_matches_iou_assignment():
    """Without assigned_gt_inds the configured MaxIoUAssignerAVA decides the targets."""
    head = build_head(
        drop_path_rate=0.,
        train_cfg=dict(assigner=dict(type='MaxIoUAssignerAVA', pos_iou_thr=.45,
                                     neg_iou_thr=.45, min_pos_iou=.45))).eval()
    x = pruned_output()
    samples, _ = two_images()
    proposals = [InstanceData(bboxes=torch.tensor(BOXES)) for _ in range(2)]
    losses = head.loss(x, proposals, samples)
    logits = head(x, proposals, samples)
    rows, targets = [], []
    for i, data_sample in enumerate(samples):
        gt = data_sample.gt_instances
        iou = bbox_overlaps(proposals[i].bboxes, gt.bboxes)
        best, which = iou.max(dim=1)
        for p in range(3):
            if best[p] >= .45:
                rows.append(3 * i + p)
                targets.append(gt.labels[which[p], 1:])
    assert rows == [0, 1, 4]  # sanity of the toy layout (IoUs .86, .96 and .48)
    for layer, layer_logits in enumerate(logits):
        expected = 3. * F.binary_cross_entropy_with_logits(layer_logits[rows],
                                                          torch.stack(targets))
        assert torch.allclose(losses[f'd{layer}.loss_action'], expected)


def test_sampler_adds_ground_truth_as_proposals():
    head = build_head(
        train_cfg=dict(
            assigner=dict(type='MaxIoUAssignerAVA', pos_iou_thr=.9, neg_iou_thr=.9,
                          min_pos_iou=.9),
            sampler=dict(type='RandomSampler', num=32, pos_fraction=1, neg_pos_ub=-1,
                         add_gt_as_proposals=True)))
    x = pruned_output()
    samples, _ = two_images()
    proposals = [InstanceData(bboxes=torch.tensor(BOXES)) for _ in range(2)]
    seen = {}
    forward_actions = head.forward_actions

    def spy(x, bboxes_list, metas):
        seen['boxes'] = bboxes_list
        out = forward_actions(x, bboxes_list, metas)
        seen['logits'] = out
        return out

    head.forward_actions = spy
    losses = head.loss(x, proposals, samples)
    rows, targets, offset = [], [], 0
    for boxes, data_sample in zip(seen['boxes'], samples):
        gt = data_sample.gt_instances
        assert len(boxes) == 3 + len(gt)  # all proposals (all sampled) + the gt boxes
        iou = bbox_overlaps(boxes, gt.bboxes)
        assert (iou.max(dim=0).values == 1).all()  # every gt box is among them
        best, which = iou.max(dim=1)
        for r in range(len(boxes)):
            if best[r] >= .9:
                rows.append(offset + r)
                targets.append(gt.labels[which[r], 1:])
        offset += len(boxes)
    assert len(rows) == 4  # the 3 gt boxes and proposal [20, 10, 60, 62] (IoU .96)
    for layer, per_image in enumerate(seen['logits']):
        expected = 3. * F.binary_cross_entropy_with_logits(
            torch.cat(per_image)[rows], torch.stack(targets))
        assert torch.allclose(losses[f'd{layer}.loss_action'], expected)


def test_inputs_of_the_caller_are_not_modified():
    head = build_head(train_cfg=dict(assigner=dict(type='MaxIoUAssignerAVA', pos_iou_thr=.5,
                                                   neg_iou_thr=.5, min_pos_iou=.5),
                                     sampler=dict(type='RandomSampler', num=8, pos_fraction=1,
                                                  add_gt_as_proposals=True)))
    x = pruned_output()
    samples, evad = two_images()
    plain = [InstanceData(bboxes=torch.tensor(BOXES)) for _ in range(2)]
    before = [(set(p.keys()), p.bboxes.clone()) for p in plain + evad]
    gt_before = [(set(s.gt_instances.keys()), s.gt_instances.bboxes.clone()) for s in samples]
    head.loss(x, plain, samples)
    head.loss(x, evad, samples)
    head.predict(x, plain, samples)
    for (keys, boxes), p in zip(before, plain + evad):
        assert set(p.keys()) == keys and torch.equal(p.bboxes, boxes)
    for (keys, boxes), data_sample in zip(gt_before, samples):
        assert set(data_sample.gt_instances.keys()) == keys
        assert torch.equal(data_sample.gt_instances.bboxes, boxes)


def test_init_follows_spec():
    torch.manual_seed(0)
    head = build_head(embed_dims=48, num_heads=2)
    # Xavier on (1, 1, Cd): fan_in = fan_out = Cd (docs/official_behaviours.md#d15)
    bound = math.sqrt(6 / (48 + 48))
    assert head.mask_token.abs().max() <= bound and head.mask_token.abs().max() > bound / 2
    assert head.encoder_to_decoder.bias is None
    for name, param in head.decoder.named_parameters():
        if name.endswith('bias'):
            assert (param == 0).all(), name
    assert 'pos_embed' not in head.state_dict()


def test_user_errors_name_the_cause():
    with pytest.raises(ValueError, match='kept_token_order'):
        build_head(kept_token_order='topk')
    with pytest.raises(ValueError, match='roi_extension'):
        build_head(roi_extension=(0.4,))
    head = build_head()
    samples, evad = two_images()
    plain = [InstanceData(bboxes=torch.tensor(BOXES)) for _ in range(2)]
    with pytest.raises(ValueError, match='assigner'):
        head.loss(pruned_output(), plain, samples)
    with pytest.raises(ValueError, match='in_channels'):
        head.loss(torch.randn(2, CE + 1, *GRID), evad, samples)
    with pytest.raises(ValueError, match='pos_embed_grid'):
        head.loss(torch.randn(2, CE, 8, 4, 4), evad, samples)
    with pytest.raises(ValueError, match='one .* feature map'):
        head.loss((torch.randn(2, CE, *GRID), torch.randn(2, CE, *GRID)), evad, samples)
    with pytest.raises(ValueError, match='return_feat_map'):
        head.loss(torch.randn(2, CE), evad, samples)
    wrong = [sample([[0., 0., 9., 9.]], [[1]]) for _ in range(2)]
    for s in wrong:
        s.gt_instances.labels = torch.zeros(1, K)
    with pytest.raises(ValueError, match='num_classes'):
        head.loss(pruned_output(), [evad_proposals([0, -1, -1])] * 2, wrong)
    with pytest.raises(ValueError, match='assigned_gt_inds refers'):
        head.loss(pruned_output(), [evad_proposals([0, 5, -1])] * 2, samples)


def test_actors_are_pooled_from_the_given_boxes_enlarged_then_clipped():
    """docs/algorithm.md#roi-extension: the official model enlarges the predicted boxes, then clips;
    clipping first would enlarge a box crossing the border less. The localization head hands on
    its boxes as predicted; the output boxes are the given ones in the [0, 1] frame."""
    head = build_head(roi_extension=(0.4, 0.2)).eval()
    x = pruned_output(B=1)
    data_samples = [sample([], [], img_shape=(60, 64))]
    bboxes = torch.tensor([[-30., 5., 40., 50.], [20., -8., 90., 59.], [10., 10., 30., 30.]])
    clipped = extend_bboxes(bboxes, (60, 64), (0., 0.))
    proposals = [InstanceData(bboxes=bboxes)]
    seen = []
    extractor_forward = head.roi_extractor.forward

    def extractor_spy(feats, rois):
        seen.append(rois)
        return extractor_forward(feats, rois)

    head.roi_extractor.forward = extractor_spy
    with torch.no_grad():
        result = head.predict(x, proposals, data_samples)[0]
        logits = head(x, proposals, data_samples)[-1]
        from_clipped = head.predict(x, [InstanceData(bboxes=clipped)], data_samples)[0]
    expected = extend_bboxes(bboxes, (60, 64), (0.4, 0.2))
    assert torch.allclose(seen[0][:, 1:], expected) and torch.allclose(seen[1][:, 1:], expected)
    assert not torch.allclose(expected, extend_bboxes(clipped, (60, 64), (0.4, 0.2)))
    assert torch.allclose(result.scores[:, 1:], logits.sigmoid())
    assert not torch.allclose(result.scores, from_clipped.scores)
    # inside the [0, 1] frame; EVAD clips its own output boxes to the last pixel
    assert torch.allclose(result.bboxes, torch.tensor([[0., 5 / 60, 40 / 64, 50 / 60],
                                                       [20 / 64, 0., 1., 59 / 60],
                                                       [10 / 64, 10 / 60, 30 / 64, 30 / 60]]))
    assert torch.equal(proposals[0].bboxes[0], torch.tensor([-30., 5., 40., 50.]))


def test_single_label_option_trains_and_predicts_a_softmax():
    """multilabel=False (one action per person, the tube datasets): cross-entropy on the matched
    proposals (a two-label box gets an even soft target), softmax scores at test time."""
    head = build_head(drop_path_rate=0., multilabel=False).eval()
    x = pruned_output()
    samples, proposals = two_images()
    losses = head.loss(x, proposals, samples)
    logits = head(x, proposals, samples)
    matched = torch.tensor([True, False, True, False, True, False])
    targets = torch.zeros(3, K)
    targets[0, 1] = 1  # gt {2}
    targets[1, 0] = targets[1, 2] = 0.5  # gt {1, 3}
    targets[2, 4] = 1  # gt {5}
    for layer, layer_logits in enumerate(logits):
        expected = 3. * F.cross_entropy(layer_logits[matched], targets)
        assert torch.allclose(losses[f'd{layer}.loss_action'], expected)
        assert not torch.allclose(
            expected, 3. * F.binary_cross_entropy_with_logits(layer_logits[matched], targets))
    with torch.no_grad():
        results = head.predict(x, proposals, samples)
    scores = torch.cat([r.scores for r in results])
    assert (scores[:, 0] == 0).all()
    assert torch.allclose(scores[:, 1:], logits[-1].softmax(-1))
    assert torch.allclose(scores.sum(-1), torch.ones(len(scores)))

    samples[1].gt_instances.labels.zero_()  # a person without any action label
    with pytest.raises(ValueError, match='no action label'):
        head.loss(x, proposals, samples)
