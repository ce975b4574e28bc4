# Panoptic FCN R50 2x at 800.
_base_ = [
    '../_base_/models/panoptic_fcn_r50_fpn.py',
    '../_base_/datasets/coco_panoptic.py',
    '../_base_/schedules/schedule_2x.py', '../_base_/default_runtime.py'
]
