# A tiny version of the FastRCNN + ContextRefinementRoIHead drop-in for the synthetic AVA data of
# mmevad.datasets (person proposals included). CPU-sized: 2-block 32-d ViT, 8 frames, short side 64.
#   python tools/data/generate_synthetic_ava.py data/synthetic_ava
#   python tools/train.py configs/videomae_crd/fastrcnn-crd_vit-tiny-p16_1xb2-8x4x1-2e_synthetic-ava-rgb.py
_base_ = ['./fastrcnn-crd_vit-base-p16_videomae-k400-pre_8xb8-16x4x1-20e-adamw_ava-kinetics-rgb.py']

embed_dims = 32
depth = 2
num_frames = 8
short_side = 64

model = dict(
    init_cfg=None,  # no pre-trained weights for a tiny ViT
    backbone=dict(
        img_size=short_side,
        embed_dims=embed_dims,
        depth=depth,
        num_heads=2,
        num_frames=num_frames,
        drop_path_rate=0.0),
    roi_head=dict(
        in_channels=embed_dims,
        embed_dims=embed_dims,
        depth=depth,
        num_heads=2,
        action_hidden_dims=64,
        drop_path_rate=0.0,
        pos_embed_grid=(num_frames // 2, 14, 14),
        with_cp=False))

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
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_train,
        exclude_file=exclude_file_train,
        pipeline=train_pipeline,
        label_file=label_file,
        proposal_file=proposal_file_train,
        data_prefix=dict(img=data_root)))
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_val,
        exclude_file=exclude_file_val,
        pipeline=val_pipeline,
        label_file=label_file,
        proposal_file=proposal_file_val,
        data_prefix=dict(img=data_root),
        test_mode=True))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='AVAMetric',
    ann_file=ann_file_val,
    label_file=label_file,
    exclude_file=exclude_file_val,
    action_thr=0.0)
test_evaluator = val_evaluator

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2, val_begin=1, val_interval=1)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True, begin=0, end=2)]
optim_wrapper = dict(paramwise_cfg=dict(num_layers=depth))
default_hooks = dict(logger=dict(interval=1))
auto_scale_lr = dict(enable=False, base_batch_size=2)  # 1 GPU x 2 clips
