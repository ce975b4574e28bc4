# COCO panoptic (133 classes: 80 things first, then 53 stuff), with Panoptic
# FCN's data recipe: short side 640..800 step 32 (long side <= 1333), flip
# 0.5; test at 800/1333. Batch 2 per GPU x 8 GPUs = 16 images.
# PanopticResize resizes as detectron2 does (output size of its
# ResizeShortestEdge; PIL bilinear for the image, PIL nearest for masks and
# map), so converted reference checkpoints see the inputs they were trained
# on; backend='cv2' is the faster alternative (docs/datasets.md).
dataset_type = 'PanopticFCNCocoDataset'
data_root = 'data/coco/'
num_things_classes = 80
num_stuff_classes = 53
backend_args = None

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadPanopticFCNAnnotations', backend_args=backend_args),
    dict(
        type='RandomChoiceResize',
        scales=[(1333, short) for short in range(640, 801, 32)],
        keep_ratio=True,
        resize_type='PanopticResize',
        backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
    # after the geometric transforms: the map is resized/flipped in mmdet's
    # labels, then turned into Panoptic FCN's stuff channels
    dict(
        type='GenerateStuffMap',
        num_things_classes=num_things_classes,
        num_stuff_classes=num_stuff_classes),
    dict(type='PackDetInputs')
]
# annotations are loaded after Resize so the ground truth keeps the original
# size the evaluation compares against
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(
        type='PanopticResize',
        scale=(1333, 800),
        keep_ratio=True,
        backend='pillow'),
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
# image at the test scale (short side 800) and at short
# sides 640 and 960 (long side <= 1333), each unflipped and
# flipped. The first scale, unflipped, is the frame PanopticFCNTTAModel
# merges the views in: keep the test scale first.
tta_scales = [(1333, 800), (1333, 640), (1333, 960)]
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(
                    type='PanopticResize',
                    scale=scale,
                    keep_ratio=True,
                    backend='pillow') for scale in tta_scales
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
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/panoptic_train2017.json',
        data_prefix=dict(
            img='train2017/', seg='annotations/panoptic_train2017/'),
        # drop images without non-crowd thing instances, as the reference
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
        ann_file='annotations/panoptic_val2017.json',
        data_prefix=dict(img='val2017/', seg='annotations/panoptic_val2017/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

# PQ / SQ / RQ (all, things, stuff), mask AP and the stuff branch's mIoU:
# three metrics on the val split's ground truth, which share the encoding
# of each image (the first one listed encodes it); classwise=True adds the
# per-class tables
val_gt = dict(
    ann_file=data_root + 'annotations/panoptic_val2017.json',
    seg_prefix=data_root + 'annotations/panoptic_val2017/',
    backend_args=backend_args)
val_evaluator = [
    dict(type='PanopticQualityMetric', **val_gt),
    dict(type='PanopticMaskAPMetric', **val_gt),
    dict(type='SemanticIoUMetric', **val_gt),
]
test_evaluator = val_evaluator
