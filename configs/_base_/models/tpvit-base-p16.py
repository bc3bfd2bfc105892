# TokenPruningViT ViT-B/16 for 16-frame clips (docs/algorithm.md#backbone-hparams), keep rate 1
# everywhere. The sizes are named once here; every field that follows from one is computed from
# its name. A config that changes a size re-declares the name and the fields computed from it
# (mmengine evaluates this file before any child, so a child's value does not reach the dicts
# below): configs/evad/README.md, "How the configs are composed".
img_size = 224  # the VideoMAE pre-training size the position table is built for
patch_size = 16
num_frames = 16
tubelet_size = 2
embed_dims = 768  # Ce, encoder width
depth = 12
num_heads = 12
# the FPN taps: the last block of each quarter of the encoder
feature_taps = tuple(depth // 4 * (i + 1) - 1 for i in range(4))
with_cp = True  # gradient checkpointing, in the backbone and the context refinement decoder

model = dict(
    backbone=dict(
        type='TokenPruningViT',
        img_size=img_size,
        patch_size=patch_size,
        in_channels=3,
        embed_dims=embed_dims,
        depth=depth,
        num_heads=num_heads,
        mlp_ratio=4.,
        qkv_bias=True,
        drop_path_rate=0.1,
        norm_cfg=dict(type='LN', eps=1e-6),
        num_frames=num_frames,
        tubelet_size=tubelet_size,
        # the keep-rate schedules of the released EVAD models (evad_vit-*-ktp*.py) override
        # `keep_rates` / `enhanced_weight` (docs/algorithm.md#keep-rate-schedules)
        keep_rates=[1.] * depth,
        enhanced_weight=1.,
        feature_taps=feature_taps,
        out_type='evad',
        with_cp=with_cp))
