# Panoptic FCN's COCO 1x schedule: 90000 iterations of 16 images, SGD lr
# 0.01, no weight decay on norm layers, gradients clipped BY VALUE at 35,
# poly decay (power 0.9) from iteration 0 times a 1000-iteration linear
# warm-up from 0.001 (detectron2's WarmupPolyLR).
max_iters = 90000

train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=10000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# lr(t) = lr * w(t) * (1 - t / max_iters) ** 0.9 at iteration t, with the
# warm-up w(t) = 0.001 * (1 - t / 1000) + t / 1000 for t < 1000, else 1
param_scheduler = [
    dict(
        type='WarmupPolyLR',
        power=0.9,
        warmup_factor=0.001,
        warmup_iters=1000,
        by_epoch=False,
        begin=0,
        end=max_iters)
]

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(norm_decay_mult=0.0),
    clip_grad=dict(type='value', clip_value=35))

# the reference does not scale the LR; set enable=True (with
# --auto-scale-lr) to scale it linearly for other total batch sizes
auto_scale_lr = dict(enable=False, base_batch_size=16)
