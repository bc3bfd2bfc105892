# TokenPruningViT ViT-B/16 for 16-frame clips (docs/algorithm.md#backbone-hparams). Keep rate 1
# everywhere; the keep-rate schedules of the released EVAD models override `keep_rates` /
# `enhanced_weight` (docs/algorithm.md#keep-rate-schedules).
depth = 12
model = dict(
    backbone=dict(
        type='TokenPruningViT',
        img_size=224,  # the VideoMAE pre-training size the position table is built for
        patch_size=16,
        in_channels=3,
        embed_dims=768,
        depth=depth,
        num_heads=12,
        mlp_ratio=4.,
        qkv_bias=True,
        drop_path_rate=0.1,
        norm_cfg=dict(type='LN', eps=1e-6),
        num_frames=16,
        tubelet_size=2,
        keep_rates=[1.] * depth,
        enhanced_weight=1.,
        feature_taps=(2, 5, 8, 11),
        out_type='evad',
        with_cp=True))
