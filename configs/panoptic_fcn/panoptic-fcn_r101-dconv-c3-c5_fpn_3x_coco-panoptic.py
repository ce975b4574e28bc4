# Panoptic FCN DCN-R101 3x at 800: DCNv2 in the 3x3 convs of ResNet stages
# 3-5 (res3..res5).
_base_ = './panoptic-fcn_r101_fpn_3x_coco-panoptic.py'

model = dict(
    backbone=dict(
        dcn=dict(type='DCNv2', deform_groups=1, fallback_on_stride=False),
        stage_with_dcn=(False, True, True, True)))
