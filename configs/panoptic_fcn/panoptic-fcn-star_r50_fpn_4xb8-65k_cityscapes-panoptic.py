# The enhanced Panoptic FCN* R50 on Cityscapes (paper Table 13: PQ 61.4,
# PQ_th 54.8, PQ_st 66.6): DCNv2 convs in the feature encoder and C_e = 256.
_base_ = './panoptic-fcn_r50_fpn_4xb8-65k_cityscapes-panoptic.py'

model = dict(
    panoptic_head=dict(
        feature_encoder=dict(feat_channels=256, use_dcn=True)))
