# Panoptic FCN R50 3x at 800 trained on the reference's training set,
# detectron2's coco_2017_train_panoptic_separated: thing masks, boxes and
# labels from instances_train2017.json (polygons / RLEs, which may overlap),
# the stuff map from the panoptic PNG. Same model and test set as the
# 3x config.
_base_ = './panoptic-fcn_r50_fpn_3x_coco-panoptic.py'

train_dataloader = dict(
    dataset=dict(instances_file='annotations/instances_train2017.json'))
