# Ablation Table 7 (weighted dice), row "weighted, k = 1" (paper PQ 40.0, PQ_th
# 45.1, PQ_st 32.4, AP 30.9, mIoU 41.4): the highest-scoring position of each
# object gives its one kernel (its normalised weight s / s is 1).
_base_ = '../panoptic-fcn_r50_fpn_1x_coco-panoptic.py'

model = dict(panoptic_head=dict(thing_generator=dict(pos_num=1)))
