# UCF101-24 split 1 (24 classes, 320x240 frames at 25 fps, one action per tube) for EVAD.
# Ground truth: the ACT/MOC pickle UCF101v2-GT.pkl (corrected annotations); frames:
# <data_root>/<class>/<video>/00001.jpg as ACT and MOC distribute them. Convert once:
#   python tools/data/tubes_to_ava.py data/ucf101_24/annotations/UCF101v2-GT.pkl \
#       data/ucf101_24/annotations --prefix ucf101_24_split1 \
#       --frame-root data/ucf101_24/rgb-images --filename-tmpl '{:05}.jpg'
# Every annotated frame is a keyframe in training and testing (TubeAVADataset, timestamps are
# frame numbers). Clips: 16 consecutive frames around the keyframe (16x1, ~0.64 s), short side
# 288 as EVAD on AVA. Evaluation: frame-mAP@0.5 and video-mAP@0.2/0.5 (TubeMAPMetric).
# UCF101-24 videos are untrimmed: test_dataloader.dataset.all_frames=True also runs the frames
# outside every tube (the ACT/MOC protocol); the default runs the annotated frames, as
# mmaction2's MultiSports configs do.
dataset_type = 'TubeAVADataset'
data_root = 'data/ucf101_24/rgb-images'
anno_root = 'data/ucf101_24/annotations'

gt_file = f'{anno_root}/UCF101v2-GT.pkl'
ann_file_train = f'{anno_root}/ucf101_24_split1_train.csv'
ann_file_val = f'{anno_root}/ucf101_24_split1_val.csv'
exclude_file_train = f'{anno_root}/ucf101_24_split1_train_excluded_timestamps.csv'
exclude_file_val = f'{anno_root}/ucf101_24_split1_val_excluded_timestamps.csv'
label_file = f'{anno_root}/ucf101_24_split1_action_list.pbtxt'
num_classes = 24
filename_tmpl = '{:05}.jpg'
clip_len, frame_interval = 16, 1

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

val_evaluator = dict(type='TubeMAPMetric', ann_file=gt_file, split=1)
test_evaluator = val_evaluator
