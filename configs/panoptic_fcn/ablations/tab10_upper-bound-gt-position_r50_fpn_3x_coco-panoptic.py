# Ablation Table 10 (upper bounds), row "ground-truth position" (paper PQ 49.8,
# PQ_th 52.2, PQ_st 46.1, AP 38.2, mIoU 54.6): evaluates the 3x model with the
# thing kernels taken at the ground-truth centres and the stuff kernels pooled
# over the ground-truth stuff regions of every level (where the training
# targets place them), classes and scores predicted. An analysis head: the test
# data must have ground truth (not test-dev).
_base_ = '../panoptic-fcn_r50_fpn_3x_coco-panoptic.py'

model = dict(
    panoptic_head=dict(
        type='PanopticFCNUpperBoundHead', upper_bound='gt_position'))
