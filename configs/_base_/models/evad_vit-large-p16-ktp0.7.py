# EVAD ViT-L with the keep-rate schedule of the released ViT_L_16x4_KTP: keep rate 0.7 in blocks
# 6, 12, 18 (docs/algorithm.md#keep-rate-schedules).
_base_ = ['./evad_vit-large-p16.py']

keep_rate, pruning_blocks = 0.7, (6, 12, 18)
model = dict(
    backbone=dict(
        keep_rates=[keep_rate if i in pruning_blocks else 1. for i in range(_base_.depth)]))
