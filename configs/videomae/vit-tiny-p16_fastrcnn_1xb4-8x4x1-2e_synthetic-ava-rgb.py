# MMAction2's stock VideoMAE AVA detector (mmdet FastRCNN + AVARoIHead on precomputed person
# proposals), shrunk to CPU size and pointed at the synthetic AVA data of mmevad.datasets: a
# 2-block 32-d ViT from scratch, 8 frames, short side 64. A baseline and a check that stock
# MMAction2 detectors train and test on the synthetic data through tools/train.py / tools/test.py.
#   python tools/data/generate_synthetic_ava.py data/synthetic_ava
#   python tools/train.py configs/videomae/vit-tiny-p16_fastrcnn_1xb4-8x4x1-2e_synthetic-ava-rgb.py
_base_ = [
    'mmaction::detection/videomae/'
    'vit-base-p16_videomae-k400-pre_8xb8-16x4x1-20e-adamw_ava-kinetics-rgb.py'
]

custom_imports = dict(imports=['mmevad'], allow_failed_imports=False)

embed_dims = 32
num_frames = 8
short_side = 64

model = dict(
    init_cfg=None,  # no pre-trained weights at this size
    backbone=dict(
        img_size=short_side,
        embed_dims=embed_dims,
        depth=2,
        num_heads=2,
        num_frames=num_frames,
        drop_path_rate=0.0),
    roi_head=dict(bbox_head=dict(in_channels=embed_dims)))

dataset_type = 'EVADAVADataset'
data_root = 'data/synthetic_ava/rawframes'
anno_root = 'data/synthetic_ava/annotations'
ann_file_train = f'{anno_root}/ava_train_v2.2.csv'
ann_file_val = f'{anno_root}/ava_val_v2.2.csv'
exclude_file_train = f'{anno_root}/ava_train_excluded_timestamps_v2.2.csv'
exclude_file_val = f'{anno_root}/ava_val_excluded_timestamps_v2.2.csv'
label_file = f'{anno_root}/ava_action_list_v2.2_synthetic.pbtxt'
proposal_file_train = f'{anno_root}/ava_dense_proposals_train.synthetic.pkl'
proposal_file_val = f'{anno_root}/ava_dense_proposals_val.synthetic.pkl'

train_pipeline = [
    dict(type='SampleAVAKeyframeClip', clip_len=num_frames, frame_interval=4),
    dict(type='CheckedRawFrameDecode'),
    dict(type='Resize', scale=(-1, short_side)),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW', collapse=True),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='SampleAVAKeyframeClip', clip_len=num_frames, frame_interval=4, test_mode=True),
    dict(type='CheckedRawFrameDecode'),
    dict(type='Resize', scale=(-1, short_side)),
    dict(type='FormatShape', input_format='NCTHW', collapse=True),
    dict(type='PackActionInputs')
]

train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_train,
        exclude_file=exclude_file_train,
        label_file=label_file,
        proposal_file=proposal_file_train,
        pipeline=train_pipeline,
        data_prefix=dict(img=data_root)))
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_val,
        exclude_file=exclude_file_val,
        label_file=label_file,
        proposal_file=proposal_file_val,
        pipeline=val_pipeline,
        data_prefix=dict(img=data_root)))
test_dataloader = val_dataloader

val_evaluator = dict(
    ann_file=ann_file_val,
    label_file=label_file,
    exclude_file=exclude_file_val,
    action_thr=0.0)
test_evaluator = val_evaluator

train_cfg = dict(max_epochs=2, val_begin=1, val_interval=1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True)
]
optim_wrapper = dict(optimizer=dict(lr=1e-3), paramwise_cfg=dict(num_layers=2))
# crash-safe checkpoints and RNG states in checkpoints (mmevad.engine.hooks), as in
# configs/_base_/default_runtime.py, which this config does not inherit
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(type='AtomicCheckpointHook'))
custom_hooks = [dict(type='RandomStateHook')]
auto_scale_lr = dict(base_batch_size=4)  # 1 process x 4 clips
