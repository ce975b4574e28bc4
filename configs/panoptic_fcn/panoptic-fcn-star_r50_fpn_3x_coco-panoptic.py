# The enhanced Panoptic FCN* R50 3x at 800: DCNv2 convs in the feature
# encoder and C_e = 256 (results: configs/panoptic_fcn/README.md).
_base_ = './panoptic-fcn_r50_fpn_3x_coco-panoptic.py'

model = dict(
    panoptic_head=dict(
        feature_encoder=dict(feat_channels=256, use_dcn=True)))
