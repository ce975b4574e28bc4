# The enhanced Panoptic FCN* R50 on Mapillary Vistas v1.2 (paper Table 14:
# PQ 36.9, PQ_th 32.9, PQ_st 42.3): DCNv2 convs in the feature encoder and
# C_e = 256.
_base_ = './panoptic-fcn_r50_fpn_150k_mapillary-panoptic.py'

model = dict(
    panoptic_head=dict(
        feature_encoder=dict(feat_channels=256, use_dcn=True)))
