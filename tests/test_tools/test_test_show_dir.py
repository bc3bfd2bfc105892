"""tools/test.py --show-dir writes every validation keyframe, drawn on its raw frame."""
import copy
import csv

import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmaction.registry import DATASETS, MODELS
from mmevad.engine.hooks import EVADVisualizationHook, ava_class_names
from mmevad.visualization import EVADLocalVisualizer

from .conftest import EVAD_TINY, run_tool

# the network sees the frames at short side 48; the drawn keyframes keep the raw 96x128
SHORT_SIDE = 48


def val_keyframes(synthetic_ava):
    """img_keys of the validation split: annotated keyframes minus the excluded ones."""
    with open(synthetic_ava.ann_file_val) as f:
        annotated = {f'{row[0]},{row[1]}' for row in csv.reader(f)}
    with open(synthetic_ava.exclude_file_val) as f:
        excluded = {f'{row[0]},{row[1]}' for row in csv.reader(f)}
    return annotated - excluded


def random_checkpoint(path):
    cfg = Config.fromfile(EVAD_TINY)
    init_default_scope('mmaction')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)


def test_show_dir_writes_one_drawn_raw_keyframe_per_val_keyframe(synthetic_workspace,
                                                                  synthetic_ava):
    checkpoint = synthetic_workspace / 'random.pth'
    random_checkpoint(checkpoint)
    show_dir = synthetic_workspace / 'shown'
    run_tool('test.py', EVAD_TINY, checkpoint, '--work-dir', synthetic_workspace / 'work_dir',
             '--show-dir', show_dir, '--cfg-options', 'test_dataloader.num_workers=0',
             'test_dataloader.persistent_workers=False', 'test_dataloader.batch_size=2',
             f'test_dataloader.dataset.pipeline.2.scale=(-1,{SHORT_SIDE})',
             cwd=synthetic_workspace)
    keys = val_keyframes(synthetic_ava)
    assert len(keys) >= 2
    written = sorted(p.name for p in show_dir.iterdir())
    assert written == sorted(f"{key.replace(',', '_')}.jpg" for key in keys)
    for name in written:
        drawn = mmcv.imread(str(show_dir / name))
        # ground truth and predictions side by side, each on the raw 96x128 frame
        assert drawn.shape == (96, 2 * 128, 3)


def test_show_dir_interval_draws_every_nth_keyframe(synthetic_workspace, synthetic_ava):
    checkpoint = synthetic_workspace / 'random.pth'
    random_checkpoint(checkpoint)
    show_dir = synthetic_workspace / 'every_2nd'
    run_tool('test.py', EVAD_TINY, checkpoint, '--work-dir', synthetic_workspace / 'work_dir',
             '--show-dir', show_dir, '--interval', 2, '--cfg-options',
             'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
             cwd=synthetic_workspace)
    num_keys = len(val_keyframes(synthetic_ava))
    assert len(list(show_dir.iterdir())) == (num_keys + 1) // 2


def test_hook_loads_the_centre_frame_of_the_models_clip(synthetic_ava):
    """The drawn keyframe is the middle frame of the clip the test pipeline samples, before
    any resize."""
    cfg = Config.fromfile(EVAD_TINY)
    init_default_scope('mmaction')
    dataset_cfg = copy.deepcopy(cfg.test_dataloader.dataset)
    dataset_cfg.update(ann_file=synthetic_ava.ann_file_val,
                       exclude_file=synthetic_ava.exclude_file_val,
                       label_file=synthetic_ava.label_file,
                       data_prefix=dict(img=synthetic_ava.data_root))
    dataset = DATASETS.build(dataset_cfg)
    EVADLocalVisualizer.get_instance('test_show_dir_visualizer')  # the hook draws with it
    hook = EVADVisualizationHook(draw=True)
    clip_len = cfg.test_dataloader.dataset.pipeline[0].clip_len
    decode = dataset.pipeline.transforms[:2]  # SampleAVAFrames, RawFrameDecode
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        results = copy.deepcopy(info)
        for transform in decode:
            results = transform(results)
        keyframe = hook.load_keyframe(dataset, info['img_key'])
        np.testing.assert_array_equal(keyframe, results['imgs'][clip_len // 2])
        assert keyframe.shape == (96, 128, 3)
    # the synthetic label map names the score columns of the 5 AVA ids it uses
    names = ava_class_names(dataset)
    assert len(names) == dataset.num_classes - 1
    for class_id, name in zip(synthetic_ava.class_ids, synthetic_ava.class_names):
        assert names[class_id - 1] == name
