# JHMDB-21 split 1 (21 classes, 320x240 frames, 15-40 frames per video; each video is
# one tube of one action, every frame annotated) for EVAD.
# Ground truth: the ACT/MOC pickle JHMDB-GT.pkl (three splits); frames:
# <data_root>/<class>/<video>/00001.png as ACT and MOC distribute them. Convert once:
#   python tools/data/tubes_to_ava.py data/jhmdb21/annotations/JHMDB-GT.pkl \
#       data/jhmdb21/annotations --prefix jhmdb21_split1 \
#       --frame-root data/jhmdb21/Frames --filename-tmpl '{:05}.png'
# Sampling, pipelines, loaders and metric: tubes_evad.py (16 consecutive frames, ~0.53 s; the
# first and last frame repeat near the ends of the short videos).
# JHMDB-21 videos are trimmed (every frame is in the tube), so the annotated frames are all the
# frames. Splits 2 and 3: convert with --split 2 / 3 and set TubeMAPMetric(split=...).
_base_ = ['./tubes_evad.py']

data_root = 'data/jhmdb21/Frames'
anno_root = 'data/jhmdb21/annotations'

gt_file = f'{anno_root}/JHMDB-GT.pkl'
ann_file_train = f'{anno_root}/jhmdb21_split1_train.csv'
ann_file_val = f'{anno_root}/jhmdb21_split1_val.csv'
exclude_file_train = f'{anno_root}/jhmdb21_split1_train_excluded_timestamps.csv'
exclude_file_val = f'{anno_root}/jhmdb21_split1_val_excluded_timestamps.csv'
label_file = f'{anno_root}/jhmdb21_split1_action_list.pbtxt'
num_classes = 21
filename_tmpl = '{:05}.png'

# num_classes + 1: label ids 1..K with column 0 unused (the RoI head's AVA layout)
dataset_settings = dict(label_file=label_file, num_classes=num_classes + 1, gt_file=gt_file,
                        filename_tmpl=filename_tmpl, data_prefix=dict(img=data_root))
train_dataloader = dict(
    dataset=dict(ann_file=ann_file_train, exclude_file=exclude_file_train, **dataset_settings))
val_dataloader = dict(
    dataset=dict(ann_file=ann_file_val, exclude_file=exclude_file_val, **dataset_settings))
test_dataloader = val_dataloader

val_evaluator = dict(ann_file=gt_file, split=1)
test_evaluator = val_evaluator
