# Panoptic FCN R50 1x at 800 (results: configs/panoptic_fcn/README.md).
_base_ = [
    '../_base_/models/panoptic_fcn_r50_fpn.py',
    '../_base_/datasets/coco_panoptic.py',
    '../_base_/schedules/schedule_1x.py', '../_base_/default_runtime.py'
]
