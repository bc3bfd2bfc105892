"""ContextRefinementRoIHead in place of AVARoIHead in mmaction2's VideoMAE AVA detector
(mmdet FastRCNN with precomputed proposals), built from the drop-in configs."""
import os.path as osp

import mmaction
import torch
from _utils import ROOT
from mmaction.structures import ActionDataSample
from mmengine.config import Config
from mmengine.structures import InstanceData

from mmevad.models.roi_heads import ContextRefinementRoIHead

CONFIG_DIR = osp.join(ROOT, 'configs', 'videomae_crd')
FULL = 'fastrcnn-crd_vit-base-p16_videomae-k400-pre_8xb8-16x4x1-20e-adamw_ava-kinetics-rgb.py'
TINY = 'fastrcnn-crd_vit-tiny-p16_1xb2-8x4x1-2e_synthetic-ava-rgb.py'


def load(name):
    return Config.fromfile(osp.join(CONFIG_DIR, name))


def test_full_config_only_swaps_the_roi_head():
    cfg = load(FULL)
    stock = Config.fromfile(
        osp.join(osp.dirname(mmaction.__file__), '.mim', 'configs', 'detection', 'videomae',
                 'vit-base-p16_videomae-k400-pre_8xb8-16x4x1-20e-adamw_ava-kinetics-rgb.py'))
    assert cfg.model.roi_head.type == 'ContextRefinementRoIHead'
    assert 'bbox_head' not in cfg.model.roi_head
    assert cfg.model.roi_head.in_channels == stock.model.backbone.embed_dims
    for key in ('backbone', 'train_cfg', 'test_cfg', 'data_preprocessor', 'init_cfg'):
        assert cfg.model[key] == stock.model[key], key
    for loader in ('train_dataloader', 'val_dataloader'):
        for key in ('ann_file', 'proposal_file', 'pipeline'):
            assert cfg[loader].dataset[key] == stock[loader].dataset[key]
    assert cfg.custom_imports.imports == ['mmevad']


def fake_batch(B=2, T=8, H=64, W=85):
    torch.manual_seed(0)
    inputs = [torch.randint(0, 255, (3, T, H, W), dtype=torch.uint8) for _ in range(B)]
    samples = []
    for b in range(B):
        sample = ActionDataSample()
        sample.set_metainfo(dict(img_shape=(H, W), video_id=f'v{b}', timestamp=902))
        labels = torch.zeros(2, 81)
        labels[0, 12] = labels[1, 14] = labels[1, 69] = 1
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor([[5., 5., 40., 60.], [40., 10., 80., 63.]]), labels=labels)
        sample.proposals = InstanceData(
            bboxes=torch.tensor([[6., 4., 41., 60.], [30., 0., 70., 40.], [0., 0., 84., 63.]]))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def test_tiny_detector_trains_and_predicts():
    from mmaction.registry import MODELS
    cfg = load(TINY)
    model = MODELS.build(cfg.model)
    model.init_weights()
    assert isinstance(model.roi_head, ContextRefinementRoIHead)
    assert model.roi_head.bbox_sampler is not None  # from the stock train_cfg.rcnn

    data = model.data_preprocessor(fake_batch(), training=True)
    losses = model(**data, mode='loss')
    assert sorted(losses) == ['d0.loss_action', 'd1.loss_action']
    sum(losses.values()).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f'no gradient: {missing}'

    model.eval()
    data = model.data_preprocessor(fake_batch(B=1), training=False)
    with torch.no_grad():
        (result, ) = model(**data, mode='predict')
    pred = result.pred_instances
    assert pred.bboxes.shape == (3, 4) and pred.scores.shape == (3, 81)
    assert (pred.bboxes >= 0).all() and (pred.bboxes <= 1).all()
    assert (pred.scores[:, 0] == 0).all()
    with torch.no_grad():
        (raw, ) = model(**data, mode='tensor')  # mmdet _forward: per-layer raw logits
    assert len(raw) == 2 and raw[-1].shape == (3, 80)
    assert torch.allclose(raw[-1].sigmoid(), pred.scores[:, 1:])


def synthetic_config(data):
    """The tiny drop-in config pointed at a generated synthetic AVA dataset."""
    cfg = load(TINY)
    for loader, split in (('train_dataloader', 'train'), ('val_dataloader', 'val')):
        dataset = cfg[loader].dataset
        dataset.ann_file = getattr(data, f'ann_file_{split}')
        dataset.exclude_file = getattr(data, f'exclude_file_{split}')
        dataset.proposal_file = getattr(data, f'proposal_file_{split}')
        dataset.label_file = data.label_file
        dataset.data_prefix = dict(img=data.data_root)
    cfg.val_evaluator.update(
        ann_file=data.ann_file_val, exclude_file=data.exclude_file_val, label_file=data.label_file)
    return cfg


def test_drop_in_trains_predicts_and_is_scored_on_synthetic_ava(synthetic_ava, tmp_path,
                                                                monkeypatch):
    """One epoch of training and the val loop's work, step by step (the Runner adds ~15 s of
    set-up): the stock AVA pipeline with its proposal files, the stock optimizer constructor,
    and AVAMetric on the predictions."""
    from mmaction.registry import MODELS
    from mmengine.evaluator import Evaluator
    from mmengine.optim import build_optim_wrapper
    from mmengine.runner import Runner

    monkeypatch.chdir(tmp_path)  # AVAMetric writes its result CSV into the working directory
    cfg = synthetic_config(synthetic_ava)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    before = model.roi_head.decoder.action_heads[-1].fc_cls.weight.detach().clone()

    model.train()
    for batch in Runner.build_dataloader(cfg.train_dataloader, seed=0):
        log_vars = model.train_step(batch, optim_wrapper)
        assert {'d0.loss_action', 'd1.loss_action'} <= set(log_vars)
        assert torch.isfinite(log_vars['loss'])
    assert not torch.equal(model.roi_head.decoder.action_heads[-1].fc_cls.weight, before)

    model.eval()
    val_loader = Runner.build_dataloader(cfg.val_dataloader, seed=0)
    evaluator = Evaluator(cfg.val_evaluator)
    evaluator.dataset_meta = val_loader.dataset.metainfo
    for batch in val_loader:
        outputs = model.val_step(batch)
        (pred, ) = outputs
        num_proposals = len(batch['data_samples'][0].proposals)
        assert pred.pred_instances.scores.shape == (num_proposals, 81)
        evaluator.process(outputs, batch)
    metrics = evaluator.evaluate(len(val_loader.dataset))
    assert 0 <= metrics['mAP/overall'] <= 1
