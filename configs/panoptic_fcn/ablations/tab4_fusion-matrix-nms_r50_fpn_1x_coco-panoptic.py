# Ablation Table 4 (removing duplicates), row "kernel fusion and Matrix NMS"
# (paper PQ 41.3, PQ_th 46.9, PQ_st 32.8, AP 32.3, mIoU 41.7): Matrix NMS on
# the thing masks after kernel fusion.
_base_ = '../panoptic-fcn_r50_fpn_1x_coco-panoptic.py'

model = dict(test_cfg=dict(use_matrix_nms=True))
