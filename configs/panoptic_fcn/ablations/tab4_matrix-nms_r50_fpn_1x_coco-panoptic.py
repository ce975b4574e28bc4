# Ablation Table 4 (removing duplicates), row "Matrix NMS instead of kernel
# fusion" (paper PQ 38.7, PQ_th 42.6, PQ_st 32.9, AP 27.8, mIoU 41.7): no
# fusion; Matrix NMS decays the scores of overlapping thing masks.
_base_ = '../panoptic-fcn_r50_fpn_1x_coco-panoptic.py'

model = dict(test_cfg=dict(use_fusion=False, use_matrix_nms=True))
