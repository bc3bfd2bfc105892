_base_ = [
    '../_base_/models/evad_vit-base-p16.py', '../_base_/datasets/synthetic_ava.py',
    '../_base_/schedules/evad_adamw_12e.py', '../_base_/default_runtime.py'
]

embed_dims = 96
depth = 4
feat_channels = 64
num_stages = 3
num_proposals = 20

model = dict(
    backbone=dict(
        embed_dims=embed_dims, depth=depth, num_heads=3, drop_path_rate=0.,
        keep_rates=[1., 0.7, 0.7, 1.], feature_taps=(0, 1, 2, 3), with_cp=False),
    neck=dict(in_channels=[embed_dims] * 4, out_channels=feat_channels),
    localization_head=dict(
        num_proposals=num_proposals,
        proposal_feature_channel=feat_channels,
        num_stages=num_stages,
        bbox_roi_extractor=dict(out_channels=feat_channels),
        bbox_head=dict(
            in_channels=feat_channels, feedforward_channels=256, num_heads=4,
            dynamic_conv_cfg=dict(in_channels=feat_channels, feat_channels=16,
                                  out_channels=feat_channels))),
    roi_head=dict(
        in_channels=embed_dims, embed_dims=64, depth=2, num_heads=2, drop_path_rate=0.,
        action_hidden_dims=128, with_cp=False))
train_dataloader = dict(batch_size=8)
