# Panoptic FCN R50 1x on your own dataset in COCO panoptic format
# (docs/datasets.md, "Your own dataset"). An example with 3 thing and 4 stuff
# classes; copy this file and change the marked lines. The class counts must
# agree in three places: the dataset metainfo, GenerateStuffMap in every
# pipeline and model.panoptic_head (the fusion head takes its counts from
# the head).
_base_ = [
    '../../_base_/models/panoptic_fcn_r50_fpn.py',
    '../../_base_/schedules/schedule_1x.py', '../../_base_/default_runtime.py'
]

# --- change: your classes, names as in the "categories" of your JSON files
thing_classes = ('person', 'bicycle', 'car')  # categories with isthing=1
stuff_classes = ('road', 'sidewalk', 'building', 'vegetation')  # isthing=0
# --- change: your folders (layout of docs/datasets.md)
data_root = 'data/my_dataset/'
train_ann_file = 'annotations/panoptic_train.json'
train_prefix = dict(img='train/', seg='annotations/panoptic_train/')
val_ann_file = 'annotations/panoptic_val.json'
val_prefix = dict(img='val/', seg='annotations/panoptic_val/')

metainfo = dict(
    classes=thing_classes + stuff_classes,
    thing_classes=thing_classes,
    stuff_classes=stuff_classes)
num_things_classes = len(thing_classes)
num_stuff_classes = len(stuff_classes)

model = dict(
    panoptic_head=dict(
        num_things_classes=num_things_classes,
        num_stuff_classes=num_stuff_classes))

dataset_type = 'PanopticFCNCocoDataset'
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
    dict(
        type='GenerateStuffMap',
        num_things_classes=num_things_classes,
        num_stuff_classes=num_stuff_classes),
    dict(type='PackDetInputs')
]
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
# test-time augmentation (tools/test.py --tta): short sides 800 (the test
# scale, first), 640 and 960, each unflipped and flipped
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(
                    type='PanopticResize',
                    scale=(1333, short),
                    keep_ratio=True,
                    backend='pillow') for short in (800, 640, 960)
            ],
            [dict(type='RandomFlip', prob=0.),
             dict(type='RandomFlip', prob=1.)],
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
        metainfo=metainfo,
        data_root=data_root,
        ann_file=train_ann_file,
        data_prefix=train_prefix,
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
        metainfo=metainfo,
        data_root=data_root,
        ann_file=val_ann_file,
        data_prefix=val_prefix,
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

# PQ / SQ / RQ (all, things, stuff), mask AP and the stuff branch's mIoU:
# three metrics on the val split's ground truth, which share the encoding
# of each image (the first one listed encodes it); classwise=True adds the
# per-class tables
val_gt = dict(
    ann_file=data_root + val_ann_file,
    seg_prefix=data_root + val_prefix['seg'],
    backend_args=backend_args)
val_evaluator = [
    dict(type='PanopticQualityMetric', **val_gt),
    dict(type='PanopticMaskAPMetric', **val_gt),
    dict(type='SemanticIoUMetric', **val_gt),
]
test_evaluator = val_evaluator

# the schedule assumes 16 images per iteration (8 GPUs x 2); with another
# total batch size run tools/train.py with --auto-scale-lr
