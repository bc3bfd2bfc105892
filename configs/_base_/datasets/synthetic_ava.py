# The synthetic AVA-format dataset of mmevad.datasets (tools/data/generate_synthetic_ava.py
# data/synthetic_ava): 192x144 frames at 30 fps, 5 AVA classes, read by mmaction2's AVADataset
# exactly as AVA is. Same sampling as EVAD on AVA (16 frames at stride 4, no temporal jitter).
# mmevad's EVADAVADataset / SampleAVAKeyframeClip / CheckedRawFrameDecode are mmaction2's
# AVADataset / SampleAVAFrames / RawFrameDecode with errors that name the file and row, a
# reported rule for bad boxes, and the clip centred on AVA's keyframe (frame (t - 900) * 30 + 1,
# where SampleAVAFrames takes the frame after it).
dataset_type = 'EVADAVADataset'
data_root = 'data/synthetic_ava/rawframes'
anno_root = 'data/synthetic_ava/annotations'

ann_file_train = f'{anno_root}/ava_train_v2.2.csv'
ann_file_val = f'{anno_root}/ava_val_v2.2.csv'
exclude_file_train = f'{anno_root}/ava_train_excluded_timestamps_v2.2.csv'
exclude_file_val = f'{anno_root}/ava_val_excluded_timestamps_v2.2.csv'
label_file = f'{anno_root}/ava_action_list_v2.2_synthetic.pbtxt'
proposal_file_train = f'{anno_root}/ava_dense_proposals_train.synthetic.pkl'
proposal_file_val = f'{anno_root}/ava_dense_proposals_val.synthetic.pkl'

# Action names of the score columns for the inference API and the demo (mmevad.apis,
# tools/demo/demo_video.py): the AVA v2.2 map shipped in mmevad/datasets/label_maps (the
# synthetic classes are AVA ids with their AVA names).
label_map = 'ava_v2.2'

clip_len, frame_interval = 16, 4

train_pipeline = [
    dict(type='SampleAVAKeyframeClip', clip_len=clip_len, frame_interval=frame_interval,
         test_mode=True),
    dict(type='CheckedRawFrameDecode'),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW', collapse=True),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='SampleAVAKeyframeClip', clip_len=clip_len, frame_interval=frame_interval,
         test_mode=True),
    dict(type='CheckedRawFrameDecode'),
    dict(type='FormatShape', input_format='NCTHW', collapse=True),
    dict(type='PackActionInputs')
]

train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_train,
        exclude_file=exclude_file_train,
        label_file=label_file,
        pipeline=train_pipeline,
        proposal_file=None,
        data_prefix=dict(img=data_root)))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
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

val_evaluator = dict(
    type='AVAMetric',
    ann_file=ann_file_val,
    label_file=label_file,
    exclude_file=exclude_file_val,
    action_thr=0.0)
test_evaluator = val_evaluator
