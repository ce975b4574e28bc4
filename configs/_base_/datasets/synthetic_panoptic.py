# The synthetic COCO-panoptic dataset of mmpfcn.datasets.synthetic (4 thing
# shapes first, then 4 stuff textures; images 256x192 by default), written by
# `make_synthetic_panoptic('data/synthetic_panoptic/')`. The same recipe as
# COCO at the synthetic images' scale: short side 160..224 step 32 (long
# side <= 384), flip 0.5; test at the generated size.
dataset_type = 'PanopticFCNCocoDataset'
data_root = 'data/synthetic_panoptic/'
num_things_classes = 4
num_stuff_classes = 4
# equals mmpfcn.datasets.synthetic.synthetic_metainfo() (checked by a test)
metainfo = dict(
    classes=('disc', 'square', 'triangle', 'ring', 'sky', 'grass', 'bricks',
             'water'),
    thing_classes=('disc', 'square', 'triangle', 'ring'),
    stuff_classes=('sky', 'grass', 'bricks', 'water'),
    palette=[(220, 40, 40), (40, 60, 220), (235, 200, 30), (200, 40, 200),
             (150, 195, 240), (70, 140, 50), (175, 115, 75), (40, 110, 140)])
backend_args = None

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadPanopticFCNAnnotations', backend_args=backend_args),
    dict(
        type='RandomChoiceResize',
        scales=[(384, short) for short in range(160, 225, 32)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='GenerateStuffMap',
        num_things_classes=num_things_classes,
        num_stuff_classes=num_stuff_classes),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(256, 192), keep_ratio=True),
    dict(
        type='LoadPanopticFCNAnnotations',
        with_eval_rle=True,
        backend_args=backend_args),
    dict(
        type='GenerateStuffMap',
        num_things_classes=num_things_classes,
        num_stuff_classes=num_stuff_classes),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor', 'gt_panoptic_rle'))
]

# Test-time augmentation (`tools/test.py --tta`, docs/evaluation.md): every
# image at the test scale (256x192) and at 0.75x and
# 1.25x of it, each unflipped and
# flipped. The first scale, unflipped, is the frame PanopticFCNTTAModel
# merges the views in: keep the test scale first.
tta_scales = [(256, 192), (192, 144), (320, 240)]
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='Resize', scale=scale, keep_ratio=True)
                for scale in tta_scales
            ],
            [dict(type='RandomFlip', prob=0.),
             dict(type='RandomFlip', prob=1.)],
            # one list per step: TestTimeAug runs every combination
            [
                dict(
                    type='LoadPanopticFCNAnnotations',
                    with_eval_rle=True,
                    backend_args=backend_args)
            ],
            [
                dict(
                    type='GenerateStuffMap',
                    num_things_classes=num_things_classes,
                    num_stuff_classes=num_stuff_classes)
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

train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/panoptic_train.json',
        data_prefix=dict(img='train/', seg='annotations/panoptic_train/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=32),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/panoptic_val.json',
        data_prefix=dict(img='val/', seg='annotations/panoptic_val/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

# PQ / SQ / RQ (all, things, stuff), mask AP and the stuff branch's mIoU:
# three metrics on the val split's ground truth, which share the encoding
# of each image (the first one listed encodes it); classwise=True adds the
# per-class tables
val_gt = dict(
    ann_file=data_root + 'annotations/panoptic_val.json',
    seg_prefix=data_root + 'annotations/panoptic_val/',
    backend_args=backend_args)
val_evaluator = [
    dict(type='PanopticQualityMetric', **val_gt),
    dict(type='PanopticMaskAPMetric', **val_gt),
    dict(type='SemanticIoUMetric', **val_gt),
]
test_evaluator = val_evaluator
