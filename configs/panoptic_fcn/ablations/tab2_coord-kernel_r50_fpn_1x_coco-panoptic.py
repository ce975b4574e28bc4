# Ablation Table 2 (coordinates), row "coord_w only" (paper PQ 39.9, PQ_th
# 45.0, PQ_st 32.2, AP 30.0, mIoU 41.1): coordinate channels in the kernel head
# but not in the feature encoder.
_base_ = '../panoptic-fcn_r50_fpn_1x_coco-panoptic.py'

model = dict(panoptic_head=dict(feature_encoder=dict(with_coord=False)))
