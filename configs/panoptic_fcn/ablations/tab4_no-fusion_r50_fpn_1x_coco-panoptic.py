# Ablation Table 4 (removing duplicates), row "no kernel fusion, no Matrix NMS"
# (paper PQ 38.7, PQ_th 42.6, PQ_st 32.9, AP 25.4, mIoU 41.7): every thing
# kernel of every level is kept.
_base_ = '../panoptic-fcn_r50_fpn_1x_coco-panoptic.py'

model = dict(test_cfg=dict(use_fusion=False))
