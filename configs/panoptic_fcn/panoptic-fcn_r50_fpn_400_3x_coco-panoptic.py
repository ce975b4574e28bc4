# Panoptic FCN R50 3x at 400: short side 352..512 step 32 (long side
# <= 854) for training, 400/666 for testing, k = 3 kernels per thing.
_base_ = './panoptic-fcn_r50_fpn_3x_coco-panoptic.py'

model = dict(panoptic_head=dict(thing_generator=dict(pos_num=3)))

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(
        type='LoadPanopticFCNAnnotations',
        backend_args={{_base_.backend_args}}),
    dict(
        type='RandomChoiceResize',
        scales=[(854, short) for short in range(352, 513, 32)],
        keep_ratio=True,
        resize_type='PanopticResize',
        backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='GenerateStuffMap',
        num_things_classes={{_base_.num_things_classes}},
        num_stuff_classes={{_base_.num_stuff_classes}}),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(
        type='PanopticResize',
        scale=(666, 400),
        keep_ratio=True,
        backend='pillow'),
    dict(
        type='LoadPanopticFCNAnnotations',
        with_eval_rle=True,
        backend_args={{_base_.backend_args}}),
    dict(
        type='GenerateStuffMap',
        num_things_classes={{_base_.num_things_classes}},
        num_stuff_classes={{_base_.num_stuff_classes}}),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor', 'gt_panoptic_rle'))
]
# test-time augmentation (--tta) at short sides 400 (the test scale,
# first), 320 and 480, each unflipped and flipped
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(
                    type='PanopticResize',
                    scale=(666, short),
                    keep_ratio=True,
                    backend='pillow') for short in (400, 320, 480)
            ],
            [dict(type='RandomFlip', prob=0.),
             dict(type='RandomFlip', prob=1.)],
            # one list per step: TestTimeAug runs every combination
            [
                dict(
                    type='LoadPanopticFCNAnnotations',
                    with_eval_rle=True,
                    backend_args={{_base_.backend_args}})
            ],
            [
                dict(
                    type='GenerateStuffMap',
                    num_things_classes={{_base_.num_things_classes}},
                    num_stuff_classes={{_base_.num_stuff_classes}})
            ],
            [
                dict(
                    type='PackDetInputs',
                    meta_keys=('img_id', 'img_path', 'ori_shape',
                               'img_shape', 'scale_factor', 'flip',
                               'flip_direction', 'gt_panoptic_rle'))
            ]
        ])
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
