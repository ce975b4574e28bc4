# Ablation Table 10 (upper bounds), row "ground-truth position and class"
# (paper PQ 65.9, PQ_th 64.1, PQ_st 68.7, AP 45.5, mIoU 86.6): as "ground-truth
# position", and the thing and stuff kernels take the ground-truth classes as
# labels with score 1. An analysis head: the test data must have ground truth
# (not test-dev).
_base_ = '../panoptic-fcn_r50_fpn_3x_coco-panoptic.py'

model = dict(
    panoptic_head=dict(
        type='PanopticFCNUpperBoundHead', upper_bound='gt_position_class'))
