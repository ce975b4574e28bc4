# Ablation Table 3 (kernel fusion), row "class-agnostic, threshold 0.90" (paper
# PQ 41.2, PQ_th 46.7, PQ_st 32.9, AP 30.9, mIoU 41.7): similar kernels merge
# whatever their predicted classes.
_base_ = '../panoptic-fcn_r50_fpn_1x_coco-panoptic.py'

model = dict(test_cfg=dict(fusion_class_aware=False))
