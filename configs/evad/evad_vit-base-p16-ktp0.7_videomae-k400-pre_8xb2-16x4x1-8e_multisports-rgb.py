# EVAD ViT-B/16, keep rate 0.7 in blocks 3, 6, 9, from VideoMAE Kinetics-400 weights, on
# MultiSports (data: configs/_base_/datasets/multisports_evad.py). The AVA model and optimiser
# with the tube-dataset data path:
# - 16 frames at stride 4 around every annotated frame (the 64-frame window of mmaction2's 4x16
#   MultiSports configs and of EVAD on AVA);
# - one action per person: one softmax over the 66 classes (ContextRefinementRoIHead
#   multilabel=False), as mmaction2's MultiSports configs (BBoxHeadAVA multilabel=False);
# - frame-mAP@0.5 and video-mAP@0.2/0.5 (TubeMAPMetric = MultiSportsMetric with AVA's score
#   layout);
# - 8 epochs as mmaction2's MultiSports configs (here 1 warm-up, x0.1 at 6 and 7). Not yet run.
# Backbone: python tools/model_converters/videomae_to_mmevad.py SRC \
#   checkpoints/videomae_vit-base-p16_k400.pth
_base_ = [
    '../_base_/models/evad_vit-base-p16-ktp0.7.py', '../_base_/datasets/multisports_evad.py',
    '../_base_/schedules/evad_adamw_12e.py', '../_base_/default_runtime.py'
]

pretrained = 'checkpoints/videomae_vit-base-p16_k400.pth'
max_epochs = 8
model = dict(
    init_cfg=dict(type='Pretrained', checkpoint=pretrained),
    # the dataset's classes (its fragment names num_classes), one softmax over them
    roi_head=dict(num_classes=_base_.num_classes, multilabel=False))

train_cfg = dict(max_epochs=max_epochs, val_begin=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='MultiStepLR', milestones=[6, 7], gamma=0.1, by_epoch=True, begin=0,
         end=max_epochs)
]
