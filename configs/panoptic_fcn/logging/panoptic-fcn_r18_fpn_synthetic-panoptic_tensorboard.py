# The CPU demo config (panoptic-fcn_r18_fpn_synthetic-panoptic.py) logging
# to TensorBoard as well: every scalar (losses, learning rate, PQ / AP /
# mIoU of the validations) goes to WORK_DIR/TIMESTAMP/vis_data/ both as
# scalars.json (LocalVisBackend) and as a TensorBoard event file
# (TensorboardVisBackend; needs `pip install tensorboard`). View them with
# `tensorboard --logdir WORK_DIR`. The two lines below turn any config into
# a TensorBoard one.
_base_ = '../panoptic-fcn_r18_fpn_synthetic-panoptic.py'

vis_backends = [
    dict(type='LocalVisBackend'),
    dict(type='TensorboardVisBackend')
]
visualizer = dict(vis_backends=vis_backends)
