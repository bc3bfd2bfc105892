# AVA v2.2 as EVAD reads it (docs/algorithm.md#clip-sampling): 16 frames at stride 4 around each
# annotated keyframe with no temporal jitter in either split, short side 288, horizontal flip in
# training, no crop.
# mmevad's EVADAVADataset / SampleAVAKeyframeClip / CheckedRawFrameDecode are mmaction2's
# AVADataset / SampleAVAFrames / RawFrameDecode with errors that name the file and row, a
# reported rule for bad boxes, and the clip centred on AVA's keyframe (frame (t - 900) * 30 + 1,
# where SampleAVAFrames takes the frame after it).
dataset_type = 'EVADAVADataset'
data_root = 'data/ava/rawframes'
anno_root = 'data/ava/annotations'

ann_file_train = f'{anno_root}/ava_train_v2.2.csv'
ann_file_val = f'{anno_root}/ava_val_v2.2.csv'
exclude_file_val = f'{anno_root}/ava_val_excluded_timestamps_v2.2.csv'
label_file = f'{anno_root}/ava_action_list_v2.2_for_activitynet_2019.pbtxt'

# Action names of the score columns for the inference API and the demo (mmevad.apis,
# tools/demo/demo_video.py): the AVA v2.2 map shipped in mmevad/datasets/label_maps.
label_map = 'ava_v2.2'

clip_len, frame_interval = 16, 4
short_side = 288

train_pipeline = [
    # test_mode=True: EVAD samples the same frames in training (no random per-frame offset)
    dict(type='SampleAVAKeyframeClip', clip_len=clip_len, frame_interval=frame_interval,
         test_mode=True),
    dict(type='CheckedRawFrameDecode'),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='Resize', scale=(-1, short_side)),
    dict(type='FormatShape', input_format='NCTHW', collapse=True),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='SampleAVAKeyframeClip', clip_len=clip_len, frame_interval=frame_interval,
         test_mode=True),
    dict(type='CheckedRawFrameDecode'),
    dict(type='Resize', scale=(-1, short_side)),
    dict(type='FormatShape', input_format='NCTHW', collapse=True),
    dict(type='PackActionInputs')
]

train_dataloader = dict(
    batch_size=2,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_train,
        # the official recipe uses no train exclusion list (docs/algorithm.md#clip-sampling)
        exclude_file=None,
        label_file=label_file,
        pipeline=train_pipeline,
        proposal_file=None,
        data_prefix=dict(img=data_root)))
# Batch size 1 at test time: clips are padded to the batch maximum, so EVAD's tokens (and its
# predictions) depend slightly on which clips share a batch (docs/official_behaviours.md#d14). The
# official standalone test used 4 clips per batch.
val_dataloader = dict(
    batch_size=1,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_val,
        exclude_file=exclude_file_val,
        label_file=label_file,
        pipeline=val_pipeline,
        proposal_file=None,
        data_prefix=dict(img=data_root),
        test_mode=True))
test_dataloader = val_dataloader

# action_thr=0: every box reports all classes, as the official evaluation does
# (docs/algorithm.md#evaluation)
val_evaluator = dict(
    type='AVAMetric',
    ann_file=ann_file_val,
    label_file=label_file,
    exclude_file=exclude_file_val,
    action_thr=0.0)
test_evaluator = val_evaluator
