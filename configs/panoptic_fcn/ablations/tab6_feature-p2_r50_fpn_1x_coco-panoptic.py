# Ablation Table 6 (high-resolution feature), row "FPN-P2" (paper PQ 40.6,
# PQ_th 46.0, PQ_st 32.4, AP 31.6, mIoU 41.3): the feature encoder reads the
# FPN level P2 instead of the semantic FPN.
_base_ = '../panoptic-fcn_r50_fpn_1x_coco-panoptic.py'

model = dict(semantic_fpn=dict(mode='p2'))
