# Panoptic FCN R50 3x at 600: short side 440..600 step 32 (long side
# <= 1000) for training, 600/1000 for testing, k = 5 kernels per thing.
_base_ = './panoptic-fcn_r50_fpn_3x_coco-panoptic.py'

model = dict(panoptic_head=dict(thing_generator=dict(pos_num=5)))

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(
        type='LoadPanopticFCNAnnotations',
        backend_args={{_base_.backend_args}}),
    dict(
        type='RandomChoiceResize',
        scales=[(1000, short) for short in range(440, 601, 32)],
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
        scale=(1000, 600),
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
# test-time augmentation (--tta) at short sides 600 (the test scale,
# first), 480 and 720, each unflipped and flipped
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(
                    type='PanopticResize',
                    scale=(1000, short),
                    keep_ratio=True,
                    backend='pillow') for short in (600, 480, 720)
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
