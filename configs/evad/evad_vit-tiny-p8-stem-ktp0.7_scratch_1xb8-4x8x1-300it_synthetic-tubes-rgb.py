# A tiny EVAD on the synthetic tube dataset of mmevad.datasets (every frame annotated, one action
# per tube: stand, walk, run, jump; 192x144 frames at 30 fps). The quickstart's model and recipe
# (evad_vit-tiny-p8-stem-ktp0.7_scratch_1xb8-4x8x1-1900it_synthetic-ava-rgb.py: ViT 96-d x 4
# blocks, patch 8, conv stem, keep 0.7 in block 1, 4 frames at stride 8, short side 96) with the
# data path, classification and evaluation of the UCF101-24 / JHMDB-21 / MultiSports configs:
# TubeAVADataset (timestamps are frame numbers, every annotated frame a keyframe), one softmax
# over the 4 actions (ContextRefinementRoIHead(multilabel=False)), frame-mAP@0.5 and
# video-mAP@0.2/0.5 (TubeMAPMetric, in percent).
#   python tools/data/generate_synthetic_tubes.py data/synthetic_tubes
#   python tools/data/tubes_to_ava.py data/synthetic_tubes/annotations/synthetic_tubes_GT.pkl \
#       data/synthetic_tubes/annotations --prefix synthetic_tubes
#   python tools/train.py THIS_CONFIG
# Results: configs/evad/README.md, "Tube datasets".
_base_ = ['./evad_vit-tiny-p8-stem-ktp0.7_scratch_1xb8-4x8x1-1900it_synthetic-ava-rgb.py']

max_iters = 300
num_classes = 4

dataset_type = 'TubeAVADataset'
data_root = 'data/synthetic_tubes/rawframes'
anno_root = 'data/synthetic_tubes/annotations'
gt_file = f'{anno_root}/synthetic_tubes_GT.pkl'
ann_file_train = f'{anno_root}/synthetic_tubes_train.csv'
ann_file_val = f'{anno_root}/synthetic_tubes_val.csv'
exclude_file_train = f'{anno_root}/synthetic_tubes_train_excluded_timestamps.csv'
exclude_file_val = f'{anno_root}/synthetic_tubes_val_excluded_timestamps.csv'
label_file = f'{anno_root}/synthetic_tubes_action_list.pbtxt'

model = dict(roi_head=dict(num_classes=num_classes, multilabel=False))

# the quickstart's pipelines with mmaction2's sampler and decoder, as the tube-dataset configs
# (timestamps are frame numbers)
sampler = dict(type='SampleAVAFrames', clip_len=_base_.clip_len,
               frame_interval=_base_.frame_interval, test_mode=True)
train_pipeline = [sampler, dict(type='RawFrameDecode'), *_base_.train_pipeline[2:]]
val_pipeline = [sampler, dict(type='RawFrameDecode'), *_base_.val_pipeline[2:]]
# num_classes + 1: label ids 1..K, column 0 unused (the RoI head's AVA layout)
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        ann_file=ann_file_train,
        exclude_file=exclude_file_train,
        label_file=label_file,
        num_classes=num_classes + 1,
        gt_file=gt_file,
        pipeline=train_pipeline,
        data_prefix=dict(img=data_root)))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        ann_file=ann_file_val,
        exclude_file=exclude_file_val,
        label_file=label_file,
        num_classes=num_classes + 1,
        gt_file=gt_file,
        pipeline=val_pipeline,
        data_prefix=dict(img=data_root),
        test_mode=True))
test_dataloader = val_dataloader

val_evaluator = dict(_delete_=True, type='TubeMAPMetric', ann_file=gt_file, verbose=False)
test_evaluator = val_evaluator

train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', milestones=[int(max_iters * 0.8)], gamma=0.1, by_epoch=False,
         begin=0, end=max_iters)
]
# a crash-safe checkpoint every 50 iterations (the base config keeps one)
default_hooks = dict(checkpoint=dict(interval=50))
