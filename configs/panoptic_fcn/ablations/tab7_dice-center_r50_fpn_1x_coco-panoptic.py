# Ablation Table 7 (weighted dice), row "unweighted" (paper PQ 40.2): one
# kernel per object, taken at its centre, weight 1.
_base_ = '../panoptic-fcn_r50_fpn_1x_coco-panoptic.py'

model = dict(panoptic_head=dict(dice_weighting='center'))
