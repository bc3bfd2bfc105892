# mmaction2's VideoMAE ViT-B AVA detector (mmdet FastRCNN with precomputed person proposals)
# with its AVARoIHead replaced by EVAD's ContextRefinementRoIHead; everything else (data, assigner
# and sampler in train_cfg.rcnn, schedule) is the stock config. The head sees the backbone's dense
# (B, 768, 8, H/16, W/16) map, so every position is a context token and nothing is remapped.
_base_ = [
    'mmaction::detection/videomae/'
    'vit-base-p16_videomae-k400-pre_8xb8-16x4x1-20e-adamw_ava-kinetics-rgb.py'
]

custom_imports = dict(imports=['mmevad'], allow_failed_imports=False)
# crash-safe checkpoints and RNG states in checkpoints (mmevad.engine.hooks), as in
# configs/_base_/default_runtime.py, which this config does not inherit
default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook'))
custom_hooks = [dict(type='RandomStateHook')]

# The ViT-B values of configs/_base_/models/evad_vit-base-p16.py; that file cannot be a second
# _base_ here because mmengine refuses a top-level key (`model`) defined by two bases.
model = dict(
    roi_head=dict(
        _delete_=True,
        type='ContextRefinementRoIHead',
        in_channels=768,
        embed_dims=384,
        depth=6,
        num_heads=6,
        mlp_ratio=4.0,
        qkv_bias=True,
        drop_path_rate=0.1,
        num_classes=80,
        action_hidden_dims=2048,
        action_loss_weight=12.0,
        roi_extension=(0.4, 0.2),
        roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=2, aligned=True),
        featmap_stride=16,
        kept_token_order='official',  # irrelevant for a dense map: nothing is remapped
        pos_embed_grid=(8, 14, 14),
        with_cp=True))
