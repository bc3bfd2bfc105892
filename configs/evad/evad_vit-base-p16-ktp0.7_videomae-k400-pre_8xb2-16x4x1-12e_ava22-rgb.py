# EVAD ViT-B, keep rate 0.7 in blocks 3, 6, 9 (official ViT_B_16x4_KTP; published 32.3 mAP).
# Backbone: VideoMAE ViT-B/16 on Kinetics-400, converted with
#   python tools/model_converters/videomae_to_mmevad.py SRC checkpoints/videomae_vit-base-p16_k400.pth
_base_ = [
    '../_base_/models/evad_vit-base-p16-ktp0.7.py', '../_base_/datasets/ava22_evad.py',
    '../_base_/schedules/evad_adamw_12e.py', '../_base_/default_runtime.py'
]

pretrained = 'checkpoints/videomae_vit-base-p16_k400.pth'
model = dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained))
