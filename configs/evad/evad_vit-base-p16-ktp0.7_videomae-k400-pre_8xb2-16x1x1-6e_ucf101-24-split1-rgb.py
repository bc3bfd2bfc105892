# EVAD ViT-B/16, keep rate 0.7 in blocks 3, 6, 9, from VideoMAE Kinetics-400 weights, on
# UCF101-24 split 1 (data: configs/_base_/datasets/ucf101_24_evad.py). The released code has no
# UCF101-24 recipe; this is the AVA model and optimiser with the tube-dataset data path:
# - 16 consecutive frames around every annotated frame (16x1);
# - one action per person: one softmax over the 24 classes (ContextRefinementRoIHead
#   multilabel=False), which is also how TubeMAPMetric reads the scores (each box gets its
#   highest-scoring class);
# - frame-mAP@0.5 and video-mAP@0.2/0.5 (TubeMAPMetric);
# - 6 epochs (1 warm-up, x0.1 at 4 and 5): every frame of the ~2,300 training videos is a
#   keyframe, more than AVA v2.2 has, and neighbours are near-copies. Not yet run on real data.
# Backbone: python tools/model_converters/videomae_to_mmevad.py SRC \
#   checkpoints/videomae_vit-base-p16_k400.pth
_base_ = [
    '../_base_/models/evad_vit-base-p16-ktp0.7.py', '../_base_/datasets/ucf101_24_evad.py',
    '../_base_/schedules/evad_adamw_12e.py', '../_base_/default_runtime.py'
]

pretrained = 'checkpoints/videomae_vit-base-p16_k400.pth'
max_epochs = 6
model = dict(
    init_cfg=dict(type='Pretrained', checkpoint=pretrained),
    # the dataset's classes (its fragment names num_classes), one softmax over them
    roi_head=dict(num_classes=_base_.num_classes, multilabel=False))

train_cfg = dict(max_epochs=max_epochs, val_begin=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='MultiStepLR', milestones=[4, 5], gamma=0.1, by_epoch=True, begin=0,
         end=max_epochs)
]
