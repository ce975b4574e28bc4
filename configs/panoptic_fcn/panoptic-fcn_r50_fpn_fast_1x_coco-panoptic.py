# FAST inference thresholds (spec Sec. 4) on the R50 1x model at 800 (the
# reference's PanopticFCN-R50-1x-FAST; same weights as the 1x model).
_base_ = './panoptic-fcn_r50_fpn_1x_coco-panoptic.py'

model = dict(test_cfg=dict(thing_peak_thr=0.2, stuff_score_thr=0.1))
