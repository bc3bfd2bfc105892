# ViT-L backbone of EVAD `ViT_L_16x4_KTP.yaml`: keep rate 0.7 in blocks 6, 12, 18
# (docs/algorithm.md#keep-rate-schedules).
_base_ = ['../_base_/models/tpvit-large-p16.py']

custom_imports = dict(imports=['mmevad'], allow_failed_imports=False)
default_scope = 'mmaction'

keep_rate, pruning_blocks = 0.7, (6, 12, 18)
model = dict(
    backbone=dict(keep_rates=[keep_rate if i in pruning_blocks else 1. for i in range(24)]))
