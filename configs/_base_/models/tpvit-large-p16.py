# TokenPruningViT ViT-L/16 for 16-frame clips (docs/algorithm.md#backbone-hparams). Keep rate 1
# everywhere; the keep-rate schedule of the released EVAD model overrides `keep_rates`
# (docs/algorithm.md#keep-rate-schedules).
_base_ = ['./tpvit-base-p16.py']

depth = 24
model = dict(
    backbone=dict(
        embed_dims=1024,
        depth=depth,
        num_heads=16,
        drop_path_rate=0.2,
        keep_rates=[1.] * depth,
        feature_taps=(5, 11, 17, 23)))
