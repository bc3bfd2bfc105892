# UCF101-24 split 1 (24 classes, 320x240 frames at 25 fps, one action per tube) for EVAD.
# Ground truth: the ACT/MOC pickle UCF101v2-GT.pkl (corrected annotations); frames:
# <data_root>/<class>/<video>/00001.jpg as ACT and MOC distribute them. Convert once:
#   python tools/data/tubes_to_ava.py data/ucf101_24/annotations/UCF101v2-GT.pkl \
#       data/ucf101_24/annotations --prefix ucf101_24_split1 \
#       --frame-root data/ucf101_24/rgb-images --filename-tmpl '{:05}.jpg'
# Sampling, pipelines, loaders and metric: tubes_evad.py (16 consecutive frames, ~0.64 s).
# UCF101-24 videos are untrimmed: test_dataloader.dataset.all_frames=True also runs the frames
# outside every tube (the ACT/MOC protocol); the default runs the annotated frames, as
# mmaction2's MultiSports configs do.
_base_ = ['./tubes_evad.py']

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
