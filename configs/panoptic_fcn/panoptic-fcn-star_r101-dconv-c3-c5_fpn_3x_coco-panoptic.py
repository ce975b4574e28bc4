# The enhanced Panoptic FCN* with a DCN-R101 backbone, the architecture of
# the paper's COCO test-dev entry (47.5 PQ): DCNv2 in ResNet stages 3-5 and
# the Star feature encoder (DCNv2 convs, C_e = 256). Trained here with the
# 3x recipe of the R50 models (640-800 / 800).
_base_ = './panoptic-fcn_r101-dconv-c3-c5_fpn_3x_coco-panoptic.py'

model = dict(
    panoptic_head=dict(
        feature_encoder=dict(feat_channels=256, use_dcn=True)))
