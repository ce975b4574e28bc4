# Ablation Table 2 (coordinates), row "coord_f only" (paper PQ 40.2, PQ_th
# 45.3, PQ_st 32.5, AP 30.4, mIoU 41.6): coordinate channels in the feature
# encoder but not in the kernel head.
_base_ = '../panoptic-fcn_r50_fpn_1x_coco-panoptic.py'

model = dict(panoptic_head=dict(kernel_generator=dict(kernel_coord=False)))
