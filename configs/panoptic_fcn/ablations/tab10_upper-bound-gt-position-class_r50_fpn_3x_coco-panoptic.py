# Ablation Table 10 (upper bounds), row "ground-truth position and class"
# (paper PQ 65.9): as "ground-truth position", and the thing kernels take
# the ground-truth classes as labels with score 1. An analysis mode: the
# test data must have ground truth (not test-dev).
_base_ = '../panoptic-fcn_r50_fpn_3x_coco-panoptic.py'

model = dict(test_cfg=dict(upper_bound='gt_position_class'))
