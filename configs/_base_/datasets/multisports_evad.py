# MultiSports v1 (66 classes of sports actions, one action per tube; test = the val videos)
# for EVAD.
# Ground truth: multisports_GT.pkl of the MultiSports release; frames: extract the videos to
# <data_root>/<sport>/<video>/img_00001.jpg (e.g. with mmaction2's tools/data/build_rawframes.py
# or ffmpeg -i VIDEO.mp4 -q:v 2 img_%05d.jpg). Convert once:
#   python tools/data/tubes_to_ava.py data/multisports/annotations/multisports_GT.pkl \
#       data/multisports/annotations --prefix multisports \
#       --frame-root data/multisports/rawframes
# Sampling, pipelines, loaders and metric: tubes_evad.py, here with 16 frames at stride 4 (the
# 64-frame window of mmaction2's 4x16 MultiSports configs and of EVAD on AVA). Every annotated
# frame is a keyframe, as in mmaction2's MultiSports configs (AVADataset with fps=1) and the
# MultiSports evaluation. TubeMAPMetric is MultiSportsMetric (it skips the 6 classes MultiSports
# does not evaluate) with AVA's score layout. The frames outside every tube can be run too
# (all_frames=True).
_base_ = ['./tubes_evad.py']

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
frame_interval = 4

# the tube fragment's pipelines with this frame stride
train_pipeline = [dict(_base_.train_pipeline[0], frame_interval=frame_interval),
                  *_base_.train_pipeline[1:]]
val_pipeline = [dict(_base_.val_pipeline[0], frame_interval=frame_interval),
                *_base_.val_pipeline[1:]]

# num_classes + 1: label ids 1..K with column 0 unused (the RoI head's AVA layout)
dataset_settings = dict(label_file=label_file, num_classes=num_classes + 1, gt_file=gt_file,
                        filename_tmpl=filename_tmpl, data_prefix=dict(img=data_root))
train_dataloader = dict(
    dataset=dict(ann_file=ann_file_train, exclude_file=exclude_file_train, **dataset_settings,
                 pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(ann_file=ann_file_val, exclude_file=exclude_file_val, **dataset_settings,
                 pipeline=val_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(ann_file=gt_file)
test_evaluator = val_evaluator
