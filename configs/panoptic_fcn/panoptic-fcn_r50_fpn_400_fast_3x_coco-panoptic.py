# FAST inference thresholds (spec Sec. 4) on the R50 3x model at 400.
_base_ = './panoptic-fcn_r50_fpn_400_3x_coco-panoptic.py'

model = dict(test_cfg=dict(thing_peak_thr=0.2, stuff_score_thr=0.1))
