# A tiny EVAD trained from scratch on the synthetic AVA-format data (mmevad.datasets) on a CPU:
# the same architecture as the released models at small width (ViT 96-d x 4 blocks, keep 0.7 in
# blocks 1 and 2, FPN 64, 20 queries x 3 stages, a 2-layer 64-d context refinement decoder) on
# 8-frame clips. It is the base of the quickstart config (patch 8, 4 frames, conv stem:
# evad_vit-tiny-p8-stem-ktp0.7_scratch_1xb8-4x8x1-1900it_synthetic-ava-rgb.py) and the default of
# tools/analysis_tools/keep_rate_ablation.py, whose keep rates need its three non-keyframe slots.
# Generate the data with 144 training videos (the validation split is the default one):
#   python tools/data/generate_synthetic_ava.py data/synthetic_ava --num-train-videos 144
# Why each value, results and the recipe search: configs/evad/README.md, "Synthetic data".
_base_ = [
    '../_base_/models/evad_vit-base-p16.py', '../_base_/datasets/synthetic_ava.py',
    '../_base_/schedules/evad_adamw_12e.py', '../_base_/default_runtime.py'
]

# Every size this config changes is named once; the fields computed from a size are computed
# again here (configs/evad/README.md, "How the configs are composed").
embed_dims, depth, num_heads = 96, 4, 3
feature_taps = tuple(depth // 4 * (i + 1) - 1 for i in range(4))  # every block at depth 4
keep_rates = [1., 0.7, 0.7, 1.]
with_cp = False
feat_channels = 64
num_stages = 3
num_proposals = 20
clip_len, frame_interval = 8, 4  # a 1-second window, as the 16x4 clips of AVA models
num_frames = clip_len
short_side = 96
max_iters = 2600

# SeparableRoIAlign computes mmcv's aligned RoIAlign as two matmuls: same numbers, several
# times faster on CPU, where RoIAlign was half of a training iteration.
fast_roi_align = dict(type='SeparableRoIAlign', output_size=7, sampling_ratio=2, aligned=True)
model = dict(
    backbone=dict(
        embed_dims=embed_dims, depth=depth, num_heads=num_heads, drop_path_rate=0.,
        num_frames=num_frames, keep_rates=keep_rates, feature_taps=feature_taps,
        with_cp=with_cp),
    neck=dict(in_channels=[embed_dims] * 4, out_channels=feat_channels),
    localization_head=dict(
        num_proposals=num_proposals,
        proposal_feature_channel=feat_channels,
        num_stages=num_stages,
        bbox_roi_extractor=dict(
            type='IsolatedSingleRoIExtractor', _scope_='mmaction', roi_layer=fast_roi_align,
            out_channels=feat_channels),
        bbox_head=dict(
            in_channels=feat_channels, feedforward_channels=256, num_heads=4,
            dynamic_conv_cfg=dict(in_channels=feat_channels, feat_channels=16,
                                  out_channels=feat_channels))),
    roi_head=dict(
        in_channels=embed_dims, embed_dims=64, depth=2, num_heads=2, drop_path_rate=0.,
        action_hidden_dims=128, roi_layer=fast_roi_align,
        pos_embed_grid=(num_frames // _base_.tubelet_size, 14, 14), with_cp=with_cp))

sampler = dict(type='SampleAVAKeyframeClip', clip_len=clip_len, frame_interval=frame_interval,
               test_mode=True)
train_pipeline = [
    sampler,
    dict(type='CheckedRawFrameDecode'),
    dict(type='Resize', scale=(-1, short_side)),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW', collapse=True),
    dict(type='PackActionInputs')
]
val_pipeline = [
    sampler,
    dict(type='CheckedRawFrameDecode'),
    dict(type='Resize', scale=(-1, short_side)),
    dict(type='FormatShape', input_format='NCTHW', collapse=True),
    dict(type='PackActionInputs')
]
train_dataloader = dict(
    batch_size=8,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=4, dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader

# from scratch: lr 5e-4 for head and backbone alike, clipped gradients (README, "Synthetic data")
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters)
optim_wrapper = dict(
    optimizer=dict(lr=5e-4), paramwise_cfg=dict(head_lr_mult=1.),
    clip_grad=dict(max_norm=1., norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', milestones=[int(max_iters * 0.8)], gamma=0.1, by_epoch=False,
         begin=0, end=max_iters)
]
# a checkpoint every 200 iterations (and at the last one); only the newest is kept
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(type='AtomicCheckpointHook', interval=200, by_epoch=False, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
