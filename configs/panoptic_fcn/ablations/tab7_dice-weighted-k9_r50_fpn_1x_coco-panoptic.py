# Ablation Table 7 (weighted dice), row "weighted, k = 9" (paper PQ 41.3, PQ_th
# 46.8, PQ_st 32.9, AP 32.1, mIoU 41.8): the 9 highest-scoring positions of
# each object give 9 kernels whose dice losses are weighted by their normalised
# scores.
_base_ = '../panoptic-fcn_r50_fpn_1x_coco-panoptic.py'

model = dict(panoptic_head=dict(thing_generator=dict(pos_num=9)))
