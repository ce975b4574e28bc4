# Cityscapes panoptic (fine annotations; 8 thing classes first, then 11
# stuff), as written by tools/dataset_converters/cityscapes_panoptic.py
# from the official gtFine tree. Panoptic FCN's recipe: images rescaled by
# 0.5..2.0, random 512x1024 crops that keep a thing instance in view, flip
# 0.5; test single-scale at the full 1024x2048. Batch 8 per GPU x 4 GPUs =
# 32 crops.
dataset_type = 'CityscapesPanopticDataset'
data_root = 'data/cityscapes/'
num_things_classes = 8
num_stuff_classes = 11
backend_args = None

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadPanopticFCNAnnotations', backend_args=backend_args),
    dict(
        type='RandomResize',
        scale=(2048, 1024),
        ratio_range=(0.5, 2.0),
        resize_type='Resize',
        keep_ratio=True),
    dict(type='RandomCropWithInstance', crop_size=(512, 1024)),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='GenerateStuffMap',
        num_things_classes=num_things_classes,
        num_stuff_classes=num_stuff_classes),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
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
# image at the test scale (2048x1024) and at 0.75x and
# 1.25x of it, each unflipped and
# flipped. The first scale, unflipped, is the frame PanopticFCNTTAModel
# merges the views in: keep the test scale first.
tta_scales = [(2048, 1024), (1536, 768), (2560, 1280)]
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
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/cityscapes_panoptic_train.json',
        data_prefix=dict(
            img='leftImg8bit/train/',
            seg='annotations/cityscapes_panoptic_train/'),
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
        ann_file='annotations/cityscapes_panoptic_val.json',
        data_prefix=dict(
            img='leftImg8bit/val/',
            seg='annotations/cityscapes_panoptic_val/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

# PQ / SQ / RQ (all, things, stuff), mask AP and the stuff branch's mIoU:
# three metrics on the val split's ground truth, which share the encoding
# of each image (the first one listed encodes it); classwise=True adds the
# per-class tables
val_gt = dict(
    ann_file=data_root + 'annotations/cityscapes_panoptic_val.json',
    seg_prefix=data_root + 'annotations/cityscapes_panoptic_val/',
    backend_args=backend_args)
val_evaluator = [
    dict(type='PanopticQualityMetric', **val_gt),
    dict(type='PanopticMaskAPMetric', **val_gt),
    dict(type='SemanticIoUMetric', **val_gt),
]
test_evaluator = val_evaluator
