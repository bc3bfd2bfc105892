# What the tube datasets share for EVAD (ucf101_24_evad.py, jhmdb21_evad.py,
# multisports_evad.py inherit it and name their files, classes and frame stride): ground truth
# as an ACT/MOC-style pickle of tubes, converted once with tools/data/tubes_to_ava.py into
# AVA-style files read by TubeAVADataset. Every annotated frame is a keyframe in training and
# testing (timestamps are frame numbers). Clips: 16 frames around the keyframe (stride 1 here),
# short side 288 as EVAD on AVA, horizontal flip in training. Evaluation: frame-mAP@0.5 and
# video-mAP@0.2/0.5 (TubeMAPMetric).
# A child that changes a value named here re-declares what is computed from it (mmengine
# evaluates this file before the child): configs/evad/README.md, "How the configs are composed".
dataset_type = 'TubeAVADataset'
clip_len, frame_interval = 16, 1
short_side = 288

train_pipeline = [
    dict(type='SampleAVAFrames', clip_len=clip_len, frame_interval=frame_interval,
         test_mode=True),
    dict(type='RawFrameDecode'),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='Resize', scale=(-1, short_side)),
    dict(type='FormatShape', input_format='NCTHW', collapse=True),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='SampleAVAFrames', clip_len=clip_len, frame_interval=frame_interval,
         test_mode=True),
    dict(type='RawFrameDecode'),
    dict(type='Resize', scale=(-1, short_side)),
    dict(type='FormatShape', input_format='NCTHW', collapse=True),
    dict(type='PackActionInputs')
]

# the dataset's files (ann_file, exclude_file, label_file, gt_file, filename_tmpl, data_prefix)
# and num_classes come from the child
train_dataloader = dict(
    batch_size=2,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, pipeline=val_pipeline, test_mode=True))
test_dataloader = val_dataloader

val_evaluator = dict(type='TubeMAPMetric')
test_evaluator = val_evaluator
