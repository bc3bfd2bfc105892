# EVAD's classification branch (evad-algorithm.md §3): ContextRefinementRoIHead, ViT-B values.
# ViT-L (ViT_L_16x4_KTP): in_channels=1024, embed_dims=512, depth=12, num_heads=8,
# action_loss_weight=6.0 (the summed action weight stays 72, D21).
# ViT_B_16x4 (keep rate 1.0) uses roi_extension=(0.0, 0.0) (D6); every KTP config (0.4, 0.2).
model = dict(
    roi_head=dict(
        type='ContextRefinementRoIHead',
        in_channels=768,  # Ce, encoder width
        embed_dims=384,  # Cd, decoder width (= VideoMAE pre-training decoder)
        depth=6,
        num_heads=6,
        mlp_ratio=4.0,
        qkv_bias=True,
        drop_path_rate=0.1,
        num_classes=80,  # AVA labels: 81 columns, column 0 unused
        action_hidden_dims=2048,
        action_loss_weight=12.0,
        roi_extension=(0.4, 0.2),
        roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=2, aligned=True),
        featmap_stride=16,  # patch size
        kept_token_order='official',  # D1: what the released checkpoints were trained with
        pos_embed_grid=(8, 14, 14),  # VideoMAE's table: 16 frames / tubelet 2, 224 / 16
        with_cp=True))
