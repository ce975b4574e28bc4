# Ablation Table 7 (weighted dice), row "weighted, k = 3" (paper PQ 41.0, PQ_th
# 46.4, PQ_st 32.7, AP 31.6, mIoU 41.4): the 3 highest-scoring positions of
# each object give 3 kernels whose dice losses are weighted by their normalised
# scores.
_base_ = '../panoptic-fcn_r50_fpn_1x_coco-panoptic.py'

model = dict(panoptic_head=dict(thing_generator=dict(pos_num=3)))
