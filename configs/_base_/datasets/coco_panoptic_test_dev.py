# COCO panoptic test-dev: predict test2017 and write the submission for the
# evaluation server (`{outfile_prefix}.panoptic.json` and the PNG folder
# `{outfile_prefix}.panoptic/`); no metric is computed. Use it instead of
# coco_panoptic.py in a model config's _base_. The image info file must list
# the 133 panoptic categories: it is COCO's image_info_test-dev2017.json with
# the `categories` of panoptic_val2017.json, as written by mmdet's
# tools/misc/gen_coco_panoptic_test_info.py.
_base_ = './coco_panoptic.py'
data_root = 'data/coco/'
test_dev_info = 'annotations/panoptic_image_info_test-dev2017.json'

test_dev_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(
        type='PanopticResize',
        scale=(1333, 800),
        keep_ratio=True,
        backend='pillow'),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
test_dataloader = dict(
    dataset=dict(
        # mmdet's dataset reads an image info file without annotations
        type='CocoPanopticDataset',
        ann_file=test_dev_info,
        data_prefix=dict(_delete_=True, img='test2017/'),
        pipeline=test_dev_pipeline))
test_evaluator = dict(
    _delete_=True,
    type='PanopticQualityMetric',
    format_only=True,
    ann_file=data_root + test_dev_info,
    outfile_prefix='./work_dirs/coco_panoptic/test')

# --tta: the views of coco_panoptic.py (its tta_scales), without
# annotations
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(
                    type='PanopticResize',
                    scale=scale,
                    keep_ratio=True,
                    backend='pillow')
                for scale in [(1333, 800), (1333, 640), (1333, 960)]
            ],
            [dict(type='RandomFlip', prob=0.),
             dict(type='RandomFlip', prob=1.)],
            [
                dict(
                    type='PackDetInputs',
                    meta_keys=('img_id', 'img_path', 'ori_shape',
                               'img_shape', 'scale_factor', 'flip',
                               'flip_direction'))
            ]
        ])
]
