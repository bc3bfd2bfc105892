# EVAD with a ViT-L/16 backbone (ViT_L_16x4_KTP): 1024-d, 24 blocks, FPN taps after blocks
# 5/11/17/23, a 512-d, 12-layer context refinement decoder with half the action-loss weight
# (the summed action weight stays 72, docs/official_behaviours.md#d21). Keep rate 1 everywhere
# (the released schedule: evad_vit-large-p16-ktp0.7.py).
# The ViT-B sizes of tpvit-base-p16.py change here, so the fields computed from them are
# computed again (a base's dicts do not follow a child's variables).
_base_ = ['./evad_vit-base-p16.py']

embed_dims = 1024
depth = 24
num_heads = 16
feature_taps = tuple(depth // 4 * (i + 1) - 1 for i in range(4))  # as for ViT-B
model = dict(
    backbone=dict(
        embed_dims=embed_dims,
        depth=depth,
        num_heads=num_heads,
        drop_path_rate=0.2,
        keep_rates=[1.] * depth,
        feature_taps=feature_taps),
    neck=dict(in_channels=[embed_dims] * 4),
    roi_head=dict(
        in_channels=embed_dims, embed_dims=512, depth=12, num_heads=8, action_loss_weight=6.0))
