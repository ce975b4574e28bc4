# Ablation Table 10 (upper bounds), row "ground-truth position" (paper PQ
# 49.8): evaluates the 3x model with the thing kernels taken at the
# ground-truth centres of the image instead of the predicted peaks. An
# analysis mode: the test data must have ground truth (not test-dev).
_base_ = '../panoptic-fcn_r50_fpn_3x_coco-panoptic.py'

model = dict(test_cfg=dict(upper_bound='gt_position'))
