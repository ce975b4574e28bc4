# Ablation Table 6 (high-resolution feature), row "FPN-summed" (paper PQ 40.5,
# PQ_th 46.0, PQ_st 32.1, AP 31.7, mIoU 41.1): the feature encoder reads P2..P5
# upsampled to stride 4 and summed, without the semantic FPN's convs.
_base_ = '../panoptic-fcn_r50_fpn_1x_coco-panoptic.py'

model = dict(semantic_fpn=dict(mode='sum'))
