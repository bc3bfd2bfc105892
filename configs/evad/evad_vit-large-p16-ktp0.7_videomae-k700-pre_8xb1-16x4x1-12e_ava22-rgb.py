# EVAD ViT-L, keep rate 0.7 in blocks 6, 12, 18 (official ViT_L_16x4_KTP; published 39.7 mAP).
# Backbone: VideoMAE ViT-L/16 on Kinetics-700, converted with
#   python tools/model_converters/videomae_to_mmevad.py SRC checkpoints/videomae_vit-large-p16_k700.pth
_base_ = [
    '../_base_/models/evad_vit-large-p16-ktp0.7.py', '../_base_/datasets/ava22_evad.py',
    '../_base_/schedules/evad_adamw_12e.py', '../_base_/default_runtime.py'
]

pretrained = 'checkpoints/videomae_vit-large-p16_k700.pth'
model = dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained))

# 8 GPUs x 1 clip, base lr 1e-5 (x8 for the head); warm-up from 2.5e-6 as for ViT-B
# (docs/algorithm.md#optimizer)
train_dataloader = dict(batch_size=1)
optim_wrapper = dict(optimizer=dict(lr=1e-5))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.25, by_epoch=True, begin=0, end=2,
         convert_to_iter_based=True),
    dict(type='MultiStepLR', milestones=[5, 8], gamma=0.1, by_epoch=True, begin=0, end=12)
]
auto_scale_lr = dict(base_batch_size=8)
