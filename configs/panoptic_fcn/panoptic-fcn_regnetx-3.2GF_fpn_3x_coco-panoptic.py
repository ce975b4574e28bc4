# Panoptic FCN with mmdet's RegNetX-3.2GF (ImageNet pretrained, as mmdet's
# Mask R-CNN RegNetX-3.2GF config) instead of the caffe-style R50; 3x at
# 800. Not trained here: no PQ measured.
_base_ = './panoptic-fcn_r50_fpn_3x_coco-panoptic.py'

model = dict(
    # the BGR mean / std of pycls, with which the RegNet weights were
    # trained (as mmdet's RegNet configs)
    data_preprocessor=dict(
        mean=[103.53, 116.28, 123.675],
        std=[57.375, 57.12, 58.395],
        bgr_to_rgb=False),
    backbone=dict(
        _delete_=True,
        type='mmdet.RegNet',
        arch='regnetx_3.2gf',
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        style='pytorch',
        init_cfg=dict(
            type='Pretrained', checkpoint='open-mmlab://regnetx_3.2gf')),
    neck=dict(in_channels=[96, 192, 432, 1008]))

optim_wrapper = dict(optimizer=dict(weight_decay=0.00005))
