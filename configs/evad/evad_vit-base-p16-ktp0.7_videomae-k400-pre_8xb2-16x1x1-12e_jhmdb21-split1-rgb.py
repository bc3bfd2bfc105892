# EVAD ViT-B/16, keep rate 0.7 in blocks 3, 6, 9, from VideoMAE Kinetics-400 weights, on
# JHMDB-21 split 1 (data: configs/_base_/datasets/jhmdb21_evad.py). The released code has no
# JHMDB recipe; this is the AVA model and optimiser with the tube-dataset data path:
# - 16 consecutive frames around every frame (16x1; the videos have 15-40 frames);
# - one action per person: one softmax over the 21 classes (ContextRefinementRoIHead
#   multilabel=False), which is also how TubeMAPMetric reads the scores;
# - frame-mAP@0.5 and video-mAP@0.2/0.5 (TubeMAPMetric, split 1);
# - EVAD's 12-epoch AVA schedule (JHMDB-21 split 1 has about 22k training frames, a tenth of
#   AVA's keyframes). Not yet run on the real data.
# Backbone: python tools/model_converters/videomae_to_mmevad.py SRC \
#   checkpoints/videomae_vit-base-p16_k400.pth
_base_ = [
    '../_base_/models/evad_vit-base-p16-ktp0.7.py', '../_base_/datasets/jhmdb21_evad.py',
    '../_base_/schedules/evad_adamw_12e.py', '../_base_/default_runtime.py'
]

pretrained = 'checkpoints/videomae_vit-base-p16_k400.pth'
model = dict(
    init_cfg=dict(type='Pretrained', checkpoint=pretrained),
    # the dataset's classes (its fragment names num_classes), one softmax over them
    roi_head=dict(num_classes=_base_.num_classes, multilabel=False))
