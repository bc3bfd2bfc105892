# MultiSports v1 (66 classes of sports actions, one action per tube; test = the val videos)
# for EVAD.
# Ground truth: multisports_GT.pkl of the MultiSports release; frames: extract the videos to
# <data_root>/<sport>/<video>/img_00001.jpg (e.g. with mmaction2's tools/data/build_rawframes.py
# or ffmpeg -i VIDEO.mp4 -q:v 2 img_%05d.jpg). Convert once:
#   python tools/data/tubes_to_ava.py data/multisports/annotations/multisports_GT.pkl \
#       data/multisports/annotations --prefix multisports \
#       --frame-root data/multisports/rawframes
# Every annotated frame is a keyframe in training and testing (TubeAVADataset, timestamps are
# frame numbers), as mmaction2's MultiSports configs (AVADataset with fps=1) and the MultiSports
# evaluation do. Clips: 16 frames at stride 4 (the 64-frame window of mmaction2's 4x16 MultiSports
# configs and of EVAD on AVA), short side 288.
# Evaluation: frame-mAP@0.5 and video-mAP@0.2/0.5 (TubeMAPMetric).
# TubeMAPMetric is MultiSportsMetric (it skips the 6 classes MultiSports does not evaluate) with
# AVA's score layout. The frames outside every tube can be run too (all_frames=True).
dataset_type = 'TubeAVADataset'
data_root = 'data/multisports/rawframes'
anno_root = 'data/multisports/annotations'

gt_file = f'{anno_root}/multisports_GT.pkl'
ann_file_train = f'{anno_root}/multisports_train.csv'
ann_file_val = f'{anno_root}/multisports_val.csv'
exclude_file_train = f'{anno_root}/multisports_train_excluded_timestamps.csv'
exclude_file_val = f'{anno_root}/multisports_val_excluded_timestamps.csv'
label_file = f'{anno_root}/multisports_action_list.pbtxt'
num_classes = 66
filename_tmpl = 'img_{:05}.jpg'
clip_len, frame_interval = 16, 4

train_pipeline = [
    dict(type='SampleAVAFrames', clip_len=clip_len, frame_interval=frame_interval,
         test_mode=True),
    dict(type='RawFrameDecode'),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='Resize', scale=(-1, 288)),
    dict(type='FormatShape', input_format='NCTHW', collapse=True),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='SampleAVAFrames', clip_len=clip_len, frame_interval=frame_interval,
         test_mode=True),
    dict(type='RawFrameDecode'),
    dict(type='Resize', scale=(-1, 288)),
    dict(type='FormatShape', input_format='NCTHW', collapse=True),
    dict(type='PackActionInputs')
]

# num_classes + 1: label ids 1..K with column 0 unused (the RoI head's AVA layout)
train_dataloader = dict(
    batch_size=2,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_train,
        exclude_file=exclude_file_train,
        label_file=label_file,
        num_classes=num_classes + 1,
        gt_file=gt_file,
        filename_tmpl=filename_tmpl,
        pipeline=train_pipeline,
        data_prefix=dict(img=data_root)))
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
        num_classes=num_classes + 1,
        gt_file=gt_file,
        filename_tmpl=filename_tmpl,
        pipeline=val_pipeline,
        data_prefix=dict(img=data_root),
        test_mode=True))
test_dataloader = val_dataloader

val_evaluator = dict(type='TubeMAPMetric', ann_file=gt_file)
test_evaluator = val_evaluator
