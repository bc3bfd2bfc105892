# ViT-B backbone of EVAD `ViT_B_16x4.yaml`: no token pruning
# (docs/algorithm.md#keep-rate-schedules).
_base_ = ['../_base_/models/tpvit-base-p16.py']

custom_imports = dict(imports=['mmevad'], allow_failed_imports=False)
default_scope = 'mmaction'
