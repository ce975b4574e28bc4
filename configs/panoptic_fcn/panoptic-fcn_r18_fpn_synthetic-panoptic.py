# CPU demo of `make demo`: Panoptic FCN with a half-width ResNet-18 (base
# 32 channels) and a 64-channel FPN, no DCN, no pretrained weights, on the
# synthetic COCO-panoptic dataset (4 thing + 4 stuff classes, 192x256).
# Scale ranges are the COCO ones halved for the small images; AdamW instead
# of the reference's SGD, so that a short CPU schedule learns from scratch.
_base_ = [
    '../_base_/models/panoptic_fcn_r18_fpn_scratch.py',
    '../_base_/datasets/synthetic_panoptic.py',
    '../_base_/default_runtime.py'
]

model = dict(
    backbone=dict(base_channels=32),  # half width
    neck=dict(in_channels=[32, 64, 128, 256]),
    panoptic_head=dict(
        num_things_classes={{_base_.num_things_classes}},
        num_stuff_classes={{_base_.num_stuff_classes}},
        target_generator=dict(
            scale_ranges=((1, 32), (16, 64), (32, 128), (64, 256),
                          (128, 1024))),
        thing_generator=dict(pos_num=3),
        loss_seg=dict(loss_weight=3.0)),
    # the COCO limit (4096 px, ~0.4% of an 800x1200 image) scaled to the
    # synthetic images (256 px, ~0.5% of 192x256)
    test_cfg=dict(stuff_area_limit=256))

# the demo's own schedule, not the reference's (configs/_base_/schedules/
# use WarmupPolyLR, detectron2's formula): AdamW, a 100-iteration mmengine
# LinearLR warm-up and PolyLR over the 1200 iterations
max_iters = 1200
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=400)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
        end=100),
    dict(
        type='PolyLR',
        power=0.9,
        eta_min=0.0,
        by_epoch=False,
        begin=0,
        end=max_iters)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4),
    paramwise_cfg=dict(norm_decay_mult=0.0),
    clip_grad=dict(type='value', clip_value=35))
auto_scale_lr = dict(enable=False, base_batch_size=4)

train_dataloader = dict(batch_size=4)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=400, max_keep_ckpts=2))
