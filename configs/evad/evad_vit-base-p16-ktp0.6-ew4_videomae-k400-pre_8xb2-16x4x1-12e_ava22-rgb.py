# EVAD ViT-B, keep rate 0.6 in blocks 3, 6, 9 with keyframe queries weighted x4
# (official ViT_B_16x4_KTP_EW; published 31.8 mAP). Backbone: VideoMAE ViT-B/16 on Kinetics-400,
# converted as for evad_vit-base-p16-ktp0.7_videomae-k400-pre_8xb2-16x4x1-12e_ava22-rgb.py.
_base_ = [
    '../_base_/models/evad_vit-base-p16-ktp0.6-ew4.py', '../_base_/datasets/ava22_evad.py',
    '../_base_/schedules/evad_adamw_12e.py', '../_base_/default_runtime.py'
]

pretrained = 'checkpoints/videomae_vit-base-p16_k400.pth'
model = dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained))
