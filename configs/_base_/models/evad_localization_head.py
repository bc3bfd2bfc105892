# EVAD localization branch (spec evad-algorithm.md §2): an mmdet FPN on the four keyframe maps of
# the backbone (strides 4/8/16/32) and a Sparse R-CNN-style QueryLocalizationHead with a 2-way
# softmax person / no-object classifier. Values are those of the released ViT-B configs; a ViT-L
# model sets neck.in_channels to [1024] * 4.
num_stages = 6
num_proposals = 100
feat_channels = 256  # FPN output width = proposal feature width

model = dict(
    neck=dict(
        type='FPN',
        _scope_='mmdet',
        in_channels=[768, 768, 768, 768],
        out_channels=feat_channels,
        num_outs=4,  # p2..p5; EVAD computes a p6 but never uses it
        # detectron2's "Caffe2 Xavier" (kaiming-uniform, a=1, bias 0) as in the official FPN
        init_cfg=dict(type='Caffe2Xavier', layer='Conv2d')),
    localization_head=dict(
        type='QueryLocalizationHead',
        num_proposals=num_proposals,
        proposal_feature_channel=feat_channels,
        num_stages=num_stages,
        # stage_loss_weights: default 1 for every stage (deep supervision, spec §2.4)
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            _scope_='mmdet',
            # detectron2 ROIAlignV2: 7x7, 2 samples per bin, half-pixel aligned
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=2, aligned=True),
            out_channels=feat_channels,
            featmap_strides=[4, 8, 16, 32],
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
            # spec D11: softmax CE, class weights [person, no-object]; the head normalises by
            # the summed class weights of all proposals
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
                ]))))
