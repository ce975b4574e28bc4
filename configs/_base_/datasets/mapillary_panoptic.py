# Mapillary Vistas v1.2 panoptic (37 thing classes first, then 28 stuff),
# read from the dataset's own files (no conversion). Panoptic FCN's recipe:
# short side resized to 1024..2048, random 1024x1024 crops that keep a thing
# instance in view, flip 0.5. Test single-scale at short side 2048, the top
# of the training range (the reference gives no test size for Mapillary).
# Batch 4 per GPU x 8 GPUs = 32 crops.
dataset_type = 'MapillaryVistasPanopticDataset'
data_root = 'data/mapillary_vistas/'
version = 'v1.2'
num_things_classes = 37
num_stuff_classes = 28
backend_args = None

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadPanopticFCNAnnotations', backend_args=backend_args),
    # long side unbounded in practice, short side uniform in 1024..2048
    dict(
        type='RandomResize',
        scale=[(8192, 1024), (8192, 2048)],
        resize_type='Resize',
        keep_ratio=True),
    dict(type='RandomCropWithInstance', crop_size=(1024, 1024)),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='GenerateStuffMap',
        num_things_classes=num_things_classes,
        num_stuff_classes=num_stuff_classes),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(8192, 2048), keep_ratio=True),
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
# image at the test scale (short side 2048) and at short
# sides 1536 and 2560, each unflipped and
# flipped. The first scale, unflipped, is the frame PanopticFCNTTAModel
# merges the views in: keep the test scale first.
tta_scales = [(8192, 2048), (8192, 1536), (8192, 2560)]
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
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        version=version,
        data_root=data_root,
        ann_file='training/v1.2/panoptic/panoptic_2018.json',
        data_prefix=dict(
            img='training/images/', seg='training/v1.2/panoptic/'),
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
        version=version,
        data_root=data_root,
        ann_file='validation/v1.2/panoptic/panoptic_2018.json',
        data_prefix=dict(
            img='validation/images/', seg='validation/v1.2/panoptic/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

# PQ / SQ / RQ (all, things, stuff), mask AP and the stuff branch's mIoU:
# three metrics on the val split's ground truth, which share the encoding
# of each image (the first one listed encodes it); classwise=True adds the
# per-class tables
val_gt = dict(
    ann_file=data_root + 'validation/v1.2/panoptic/panoptic_2018.json',
    seg_prefix=data_root + 'validation/v1.2/panoptic/',
    backend_args=backend_args)
val_evaluator = [
    dict(type='PanopticQualityMetric', **val_gt),
    dict(type='PanopticMaskAPMetric', **val_gt),
    dict(type='SemanticIoUMetric', **val_gt),
]
test_evaluator = val_evaluator
