# EVAD ViT-B, keep rate 0.6 in blocks 3, 6, 9 with keyframe queries weighted x4
# (official ViT_B_16x4_KTP_EW; published 31.8 mAP).
_base_ = ['./evad_vit-base-p16-ktp0.7_videomae-k400-pre_8xb2-16x4x1-12e_ava22-rgb.py']

keep_rate, pruning_blocks = 0.6, (3, 6, 9)
model = dict(
    backbone=dict(
        keep_rates=[keep_rate if i in pruning_blocks else 1. for i in range(12)],
        enhanced_weight=4.))
