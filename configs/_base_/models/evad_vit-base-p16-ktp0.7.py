# EVAD ViT-B with the keep-rate schedule of the released ViT_B_16x4_KTP: keep rate 0.7 in blocks
# 3, 6, 9 (docs/algorithm.md#keep-rate-schedules).
_base_ = ['./evad_vit-base-p16.py']

keep_rate, pruning_blocks = 0.7, (3, 6, 9)
model = dict(
    backbone=dict(
        keep_rates=[keep_rate if i in pruning_blocks else 1. for i in range(_base_.depth)]))
