# ViT-B backbone of EVAD `ViT_B_16x4_KTP.yaml`: keep rate 0.7 in blocks 3, 6, 9
# (docs/algorithm.md#keep-rate-schedules).
_base_ = ['./tpvit-base-p16_ktp1.0.py']

keep_rate, pruning_blocks = 0.7, (3, 6, 9)
model = dict(
    backbone=dict(keep_rates=[keep_rate if i in pruning_blocks else 1. for i in range(12)]))
