# EVAD ViT-B, keep rate 1.0 (official ViT_B_16x4; published 32.1 mAP on AVA v2.2).
# Backbone: VideoMAE ViT-B/16 on Kinetics-400, converted with
#   python tools/model_converters/videomae_to_mmevad.py SRC checkpoints/videomae_vit-base-p16_k400.pth
_base_ = [
    '../_base_/models/evad_vit-base-p16.py', '../_base_/datasets/ava22_evad.py',
    '../_base_/schedules/evad_adamw_12e.py', '../_base_/default_runtime.py'
]

pretrained = 'checkpoints/videomae_vit-base-p16_k400.pth'
model = dict(
    init_cfg=dict(type='Pretrained', checkpoint=pretrained),
    # this released config leaves the RoI extension at (0, 0) unlike every KTP config
    # (docs/official_behaviours.md#d6)
    roi_head=dict(roi_extension=(0., 0.)))
