# EVAD with a ViT-B/16 backbone (docs/algorithm.md): TokenPruningViT -> FPN on four keyframe
# maps -> QueryLocalizationHead (Sparse R-CNN-style, softmax person / no-object) ->
# ContextRefinementRoIHead (dense token map, RoI extension, 3-D RoI pooling, context refinement
# decoder). Values of the released ViT-B configs; keep rate 1 everywhere (the KTP schedules of
# docs/algorithm.md#keep-rate-schedules: evad_vit-base-p16-ktp*.py). The backbone's sizes are
# named in tpvit-base-p16.py and read here as `_base_.name` (mmengine's Python-only syntax for a
# base's variable); the heads' own sizes are named below. Each value is typed once.
_base_ = ['./tpvit-base-p16.py']

num_stages = 6
num_proposals = 100
feat_channels = 256  # FPN output width = proposal feature width
featmap_strides = [4, 8, 16, 32]  # the four keyframe maps (TokenPruningViT.feature_strides)
# detectron2 ROIAlignV2: 7x7, 2 samples per bin, half-pixel aligned; both heads pool with it
roi_align = dict(type='RoIAlign', output_size=7, sampling_ratio=2, aligned=True)
# docs/official_behaviours.md#d1: the released models write the kept tokens (which the backbone
# returns in selection order) back onto ascending positions; the RoI head's 'official' reproduces
# that, 'sorted' puts every token at its true position.
kept_token_order = 'official'

model = dict(
    type='EVAD',
    # docs/official_behaviours.md#d9: keep proposals with person prob >= 0.7, all if none passes
    person_score_thr=0.7,
    # docs/official_behaviours.md#d10: the official trainer minimises the mean of its loss terms
    loss_reduction='mean',
    data_preprocessor=dict(
        type='EVADDataPreprocessor',
        # docs/official_behaviours.md#d12: 0.45 / 0.225 on the 0-1 scale
        mean=[114.75, 114.75, 114.75],
        std=[57.375, 57.375, 57.375],
        pad_size_divisor=32),
    neck=dict(
        type='FPN',
        _scope_='mmdet',
        in_channels=[_base_.embed_dims] * 4,
        out_channels=feat_channels,
        num_outs=4,  # p2..p5; EVAD computes a p6 but never uses it
        # detectron2's "Caffe2 Xavier" (kaiming-uniform, a=1, bias 0) as in the official FPN
        init_cfg=dict(type='Caffe2Xavier', layer='Conv2d')),
    localization_head=dict(
        type='QueryLocalizationHead',
        num_proposals=num_proposals,
        proposal_feature_channel=feat_channels,
        num_stages=num_stages,
        # stage_loss_weights: default 1 for every stage (deep supervision,
        # docs/algorithm.md#localization-losses)
        bbox_roi_extractor=dict(
            # mmdet's SingleRoIExtractor, but a non-finite image cannot spread to the others
            type='IsolatedSingleRoIExtractor',
            _scope_='mmaction',
            roi_layer=roi_align,
            out_channels=feat_channels,
            featmap_strides=featmap_strides,
            finest_scale=56),  # level = floor(log2(sqrt(area) / 56)), i.e. 4 + log2(·/224)
        bbox_head=dict(  # one stage; every stage has this structure and its own weights
            type='DIIHead',
            _scope_='mmdet',
            num_classes=1,  # person; softmax adds no-object as index 1
            num_ffn_fcs=2,
            num_heads=8,
            num_cls_fcs=1,
            num_reg_fcs=3,
            feedforward_channels=2048,
            in_channels=feat_channels,
            dropout=0.0,
            ffn_act_cfg=dict(type='ReLU', inplace=True),
            dynamic_conv_cfg=dict(
                type='DynamicConv',
                in_channels=feat_channels,
                feat_channels=64,
                out_channels=feat_channels,
                input_feat_shape=7,
                act_cfg=dict(type='ReLU', inplace=True),
                norm_cfg=dict(type='LN')),
            # docs/official_behaviours.md#d11: softmax CE, class weights [person, no-object]; the
            # head normalises by the summed class weights of all proposals
            loss_cls=dict(
                type='CrossEntropyLoss',
                use_sigmoid=False,
                class_weight=[1.0, 0.1],
                loss_weight=2.0),
            loss_bbox=dict(type='L1Loss', loss_weight=5.0),
            loss_iou=dict(type='GIoULoss', loss_weight=2.0),
            # R-CNN deltas with weights (2, 2, 1, 1), no clipping to the image
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                clip_border=False,
                target_means=[0., 0., 0., 0.],
                target_stds=[0.5, 0.5, 1., 1.])),
        train_cfg=dict(
            assigner=dict(
                type='HungarianAssigner',
                _scope_='mmdet',
                match_costs=[
                    dict(type='ClassificationCost', weight=2.0),  # -softmax person prob
                    dict(type='BBoxL1Cost', weight=5.0, box_format='xyxy'),  # img_shape-normalised
                    dict(type='IoUCost', iou_mode='giou', weight=2.0)
                ]))),
    roi_head=dict(
        type='ContextRefinementRoIHead',
        in_channels=_base_.embed_dims,
        embed_dims=384,  # Cd, decoder width (= VideoMAE pre-training decoder)
        depth=6,
        num_heads=6,
        mlp_ratio=4.0,
        qkv_bias=True,
        drop_path_rate=0.1,
        num_classes=80,  # AVA labels: 81 columns, column 0 unused
        action_hidden_dims=2048,
        action_loss_weight=12.0,
        roi_extension=(0.4, 0.2),  # +40 % width, +20 % height (docs/algorithm.md#roi-extension)
        roi_layer=roi_align,
        featmap_stride=_base_.patch_size,  # one token per patch
        kept_token_order=kept_token_order,
        # the VideoMAE decoder's table: one slot per tubelet, 14 x 14 (224 / 16) whatever the
        # backbone's patch (the table is resized to the token grid)
        pos_embed_grid=(_base_.num_frames // _base_.tubelet_size, 14, 14),
        with_cp=_base_.with_cp))
