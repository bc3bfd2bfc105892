# EVAD ViT-B, keep rate 0.7, backbone from VideoMAE V2 (ViT-B/16 distilled on Kinetics-710 and
# fine-tuned on Kinetics-400; published 37.7 mAP). Convert it with
#   python tools/model_converters/videomae_to_mmevad.py SRC checkpoints/videomaev2_vit-base-p16_k710-k400.pth
_base_ = ['./evad_vit-base-p16-ktp0.7_videomae-k400-pre_8xb2-16x4x1-12e_ava22-rgb.py']

pretrained = 'checkpoints/videomaev2_vit-base-p16_k710-k400.pth'
model = dict(init_cfg=dict(checkpoint=pretrained))
