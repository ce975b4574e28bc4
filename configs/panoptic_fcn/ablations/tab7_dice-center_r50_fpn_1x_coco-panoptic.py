# Ablation Table 7 (weighted dice), row "unweighted" (paper PQ 40.2, PQ_th
# 45.5, PQ_st 32.4, AP 31.0, mIoU 41.3): one kernel per object, taken at its
# centre, weight 1.
_base_ = '../panoptic-fcn_r50_fpn_1x_coco-panoptic.py'

model = dict(panoptic_head=dict(thing_generator=dict(dice_weighting='center')))
