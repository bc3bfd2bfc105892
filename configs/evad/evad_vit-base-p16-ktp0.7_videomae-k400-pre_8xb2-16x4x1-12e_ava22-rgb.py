# EVAD ViT-B, keep rate 0.7 in blocks 3, 6, 9 (official ViT_B_16x4_KTP; published 32.3 mAP).
_base_ = ['./evad_vit-base-p16-ktp1.0_videomae-k400-pre_8xb2-16x4x1-12e_ava22-rgb.py']

keep_rate, pruning_blocks = 0.7, (3, 6, 9)
model = dict(
    backbone=dict(keep_rates=[keep_rate if i in pruning_blocks else 1. for i in range(12)]),
    roi_head=dict(roi_extension=(0.4, 0.2)))
