# EVAD ViT-L, keep rate 0.7, trained and evaluated on AVA v2.1 (official ViT_L_16x4_KTP_v2.1; no
# published result). The official config keeps the v2.2 val exclusion file
# (docs/official_behaviours.md#d23); this one uses v2.1's own, which lists the same kind of
# keyframes for the v2.1 annotations.
_base_ = ['./evad_vit-large-p16-ktp0.7_videomae-k700-pre_8xb1-16x4x1-12e_ava22-rgb.py']

anno_root = 'data/ava/annotations'
ann_file_train = f'{anno_root}/ava_train_v2.1.csv'
ann_file_val = f'{anno_root}/ava_val_v2.1.csv'
exclude_file_val = f'{anno_root}/ava_val_excluded_timestamps_v2.1.csv'
label_file = f'{anno_root}/ava_action_list_v2.1_for_activitynet_2018.pbtxt'

train_dataloader = dict(dataset=dict(ann_file=ann_file_train, label_file=label_file))
val_dataloader = dict(
    dataset=dict(ann_file=ann_file_val, exclude_file=exclude_file_val, label_file=label_file))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=ann_file_val, exclude_file=exclude_file_val, label_file=label_file)
test_evaluator = val_evaluator
