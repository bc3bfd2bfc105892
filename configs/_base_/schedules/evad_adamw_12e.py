# EVAD's schedule (docs/algorithm.md#optimizer): AdamW, 2 linear warm-up epochs from 0.1x, steps at
# epochs 5 and 8, 12 epochs, no gradient clipping, fp32. The head learns at 8x
# (EVADOptimWrapperConstructor).
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=12, val_begin=5, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=2.5e-5, betas=(0.9, 0.999), weight_decay=1e-4),
    constructor='EVADOptimWrapperConstructor',
    paramwise_cfg=dict(head_lr_mult=8.))

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.1,
        by_epoch=True,
        begin=0,
        end=2,
        convert_to_iter_based=True),
    dict(type='MultiStepLR', milestones=[5, 8], gamma=0.1, by_epoch=True, begin=0, end=12)
]

# the released ViT-B models: 8 GPUs x 2 clips
auto_scale_lr = dict(enable=False, base_batch_size=16)
