# EVAD ViT-B with the keep-rate schedule of the released ViT_B_16x4_KTP_EW: keep rate 0.6 in
# blocks 3, 6, 9, keyframe queries weighted 4 in the importance score
# (docs/algorithm.md#keep-rate-schedules).
_base_ = ['./evad_vit-base-p16-ktp0.7.py']

keep_rate = 0.6
model = dict(
    backbone=dict(
        keep_rates=[
            keep_rate if i in _base_.pruning_blocks else 1. for i in range(_base_.depth)
        ],
        enhanced_weight=4.))
