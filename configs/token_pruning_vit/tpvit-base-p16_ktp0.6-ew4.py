# ViT-B backbone of EVAD `ViT_B_16x4_KTP_EW.yaml`: keep rate 0.6 in blocks 3, 6, 9, keyframe
# queries weighted 4 in the importance score (docs/algorithm.md#keep-rate-schedules).
_base_ = ['./tpvit-base-p16_ktp0.7.py']

keep_rate = 0.6
model = dict(
    backbone=dict(
        keep_rates=[keep_rate if i in (3, 6, 9) else 1. for i in range(12)],
        enhanced_weight=4.))
