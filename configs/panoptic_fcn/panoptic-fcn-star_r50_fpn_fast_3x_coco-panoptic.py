# FAST inference thresholds (spec Sec. 4) on the enhanced Panoptic FCN* R50
# 3x model at 800 (the reference's PanopticFCN-Star-R50-3x-FAST; same
# weights as the Star 3x model).
_base_ = './panoptic-fcn-star_r50_fpn_3x_coco-panoptic.py'

model = dict(test_cfg=dict(thing_peak_thr=0.2, stuff_score_thr=0.1))
