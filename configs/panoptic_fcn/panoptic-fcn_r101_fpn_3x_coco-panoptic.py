# Panoptic FCN R101 3x at 800 (caffe-style ResNet-101 as the R50 models).
_base_ = './panoptic-fcn_r50_fpn_3x_coco-panoptic.py'

model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='open-mmlab://detectron2/resnet101_caffe')))
