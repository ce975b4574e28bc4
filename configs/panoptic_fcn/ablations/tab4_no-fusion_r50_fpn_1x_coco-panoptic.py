# Ablation Table 4 (removing duplicates), row "no kernel fusion, no Matrix
# NMS" (paper PQ 38.7): every thing kernel of every level is kept.
_base_ = '../panoptic-fcn_r50_fpn_1x_coco-panoptic.py'

model = dict(test_cfg=dict(use_fusion=False))
