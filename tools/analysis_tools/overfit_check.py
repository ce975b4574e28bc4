"""Overfit Panoptic FCN on the two real COCO images shipped in tests/data.

``python tools/analysis_tools/overfit_check.py --work-dir work_dirs/overfit``
trains a small Panoptic FCN (ResNet-18 FPN from random init, no DCN) on the
two COCO val2017 images of ``tests/data/coco_panoptic_sample/`` (another
folder of that layout with ``--data-root``) with an mmengine Runner,
evaluates PQ on the same two images with ``PanopticQualityMetric``,
prints PQ / PQ_th / PQ_st (and the PQ of every category of the ground
truth), writes them to ``{work_dir}/overfit_check.json`` and exits non-zero
if PQ < ``--min-pq``.

A network that memorises two images only reaches a high PQ if the
thing/stuff labels, the training targets, the inference and the panoptic
merge all agree with the COCO ground truth, so this is an end-to-end check
of them on real data. Timings and results: docs/benchmarks.md.
"""
import argparse
import json
import os.path as osp
import sys
import time
from typing import List, Optional

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from mmpfcn.utils import register_all_modules

PROJECT_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# the model, the COCO panoptic data recipe and the runtime the check starts
# from; build_config only overrides what overfitting two images needs
BASE_CONFIGS = ('_base_/models/panoptic_fcn_r18_fpn_scratch.py',
                '_base_/datasets/coco_panoptic.py',
                '_base_/default_runtime.py')
DEFAULT_DATA_ROOT = osp.join(PROJECT_ROOT, 'tests', 'data',
                             'coco_panoptic_sample')
ANN_FILE = 'panoptic_examples.json'
HEADLINE = ('PQ', 'PQ_th', 'PQ_st')
METRIC_KEYS = ('PQ', 'SQ', 'RQ', 'PQ_th', 'SQ_th', 'RQ_th', 'PQ_st',
               'SQ_st', 'RQ_st')
METRIC_PREFIX = 'coco_panoptic'


def build_config(data_root: str,
                 work_dir: str,
                 iters: int = 350,
                 lr: float = 1e-3,
                 short_side: int = 384,
                 val_interval: Optional[int] = None,
                 seed: int = 0) -> Config:
    """The overfitting config.

    The COCO model with a ResNet-18 backbone (random init, RGB-normalised
    input), 64 FPN / kernel channels, no DCN and k = 3 (the reference's
    400-pixel models); trained and evaluated on the two sample images
    resized to one fixed size, without augmentation.

    AdamW instead of the reference's SGD: from random init, SGD needs far
    more than a few hundred iterations to fit the thing masks
    (docs/benchmarks.md).

    Args:
        data_root (str): The ``coco_panoptic_sample`` folder.
        work_dir (str): Logs, checkpoint and config go here.
        iters (int): Training iterations, each on both images.
            Defaults to 350.
        lr (float): Peak learning rate (linear warm-up, poly decay).
            Defaults to 1e-3.
        short_side (int): Short side of the resized images; the long side
            stays <= 640, the images' width. Defaults to 384.
        val_interval (int, optional): Also evaluate every this many
            iterations. Defaults to None: only after the last one.
        seed (int): Random seed. Defaults to 0.

    Returns:
        Config: A config for :meth:`mmengine.runner.Runner.from_cfg`.
    """
    config_dir = osp.join(PROJECT_ROOT, 'configs')
    cfg = Config.fromfile(osp.join(config_dir, BASE_CONFIGS[0]))
    for base in BASE_CONFIGS[1:]:
        cfg.merge_from_dict(
            Config.fromfile(osp.join(config_dir, base)).to_dict())

    cfg.merge_from_dict(dict(
        model=dict(panoptic_head=dict(thing_generator=dict(pos_num=3)))))

    resize = dict(type='Resize', scale=(640, short_side), keep_ratio=True)
    stuff_map = dict(
        type='GenerateStuffMap',
        num_things_classes=cfg.num_things_classes,
        num_stuff_classes=cfg.num_stuff_classes)
    train_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadPanopticFCNAnnotations'), resize, stuff_map,
        dict(type='PackDetInputs')
    ]
    # annotations after Resize: the metric compares at the original size
    test_pipeline = [
        dict(type='LoadImageFromFile'), resize,
        dict(type='LoadPanopticFCNAnnotations', with_eval_rle=True),
        stuff_map,
        dict(
            type='PackDetInputs',
            meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                       'scale_factor', 'gt_panoptic_rle'))
    ]
    # --tta / benchmark_tta.py: the test size first, then 0.8x and 1.2x;
    # each unflipped and flipped
    tta_resizes = [
        dict(resize, scale=(640, round(short_side * factor)))
        for factor in (1.0, 0.8, 1.2)
    ]
    cfg.tta_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(
            type='TestTimeAug',
            transforms=[
                tta_resizes,
                [dict(type='RandomFlip', prob=0.),
                 dict(type='RandomFlip', prob=1.)],
                [test_pipeline[2]], [stuff_map],
                [dict(test_pipeline[-1],
                      meta_keys=test_pipeline[-1]['meta_keys'] +
                      ('flip', 'flip_direction'))]
            ])
    ]
    # the dataset class brings COCO's metainfo (133 classes, things first)
    dataset = dict(
        type=cfg.dataset_type,
        data_root=data_root,
        ann_file=ANN_FILE,
        data_prefix=dict(img='images/', seg='panoptic/'))
    # Both images in every batch, in a fixed order: the BN statistics seen
    # in training are those of the whole "dataset", which evaluation uses.
    # One long epoch: mmengine's iteration loop sleeps 2 s at every epoch
    # end, which with an epoch of 2 images would be every iteration.
    cfg.train_dataloader = dict(
        batch_size=2,
        num_workers=0,
        persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(
            type='RepeatDataset',
            times=iters,
            dataset=dict(
                **dataset,
                filter_cfg=dict(filter_empty_gt=True, min_size=32),
                pipeline=train_pipeline)))
    cfg.val_dataloader = dict(
        batch_size=1,
        num_workers=0,
        persistent_workers=False,
        drop_last=False,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(**dataset, test_mode=True, pipeline=test_pipeline))
    cfg.test_dataloader = cfg.val_dataloader
    cfg.val_evaluator = dict(
        type='PanopticQualityMetric',
        ann_file=osp.join(data_root, ANN_FILE),
        seg_prefix=osp.join(data_root, 'panoptic'),
        classwise=True)
    cfg.test_evaluator = cfg.val_evaluator

    cfg.train_cfg = dict(
        type='IterBasedTrainLoop',
        max_iters=iters,
        val_interval=val_interval or iters)
    cfg.val_cfg = dict(type='ValLoop')
    cfg.test_cfg = dict(type='TestLoop')
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
             end=max(1, min(100, iters // 10))),
        dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False,
             begin=0, end=iters)
    ]
    cfg.optim_wrapper = dict(
        type='OptimWrapper',
        optimizer=dict(type='AdamW', lr=lr, weight_decay=1e-4),
        paramwise_cfg=dict(norm_decay_mult=0.0),
        clip_grad=dict(type='value', clip_value=35))
    cfg.default_hooks.logger.interval = 25
    cfg.default_hooks.checkpoint = dict(
        type='AtomicCheckpointHook', by_epoch=False, interval=iters,
        max_keep_ckpts=1)
    cfg.log_processor = dict(
        type='LogProcessor', window_size=25, by_epoch=False)
    cfg.randomness = dict(seed=seed)
    cfg.work_dir = work_dir
    return cfg


def gt_category_names(ann_file: str) -> List[str]:
    """Names of the categories that occur in the ground truth, by id."""
    with open(ann_file) as f:
        content = json.load(f)
    names = {cat['id']: cat['name'] for cat in content['categories']}
    used = {seg['category_id'] for ann in content['annotations']
            for seg in ann['segments_info']}
    return [names[cat_id] for cat_id in sorted(used)]


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Overfit Panoptic FCN on the two real COCO images of '
        'tests/data/coco_panoptic_sample and check the PQ it reaches')
    parser.add_argument('--work-dir', default='work_dirs/overfit_check',
                        help='folder for logs, checkpoint and metrics')
    parser.add_argument('--iters', type=int, default=350,
                        help='training iterations, each on both images')
    parser.add_argument('--lr', type=float, default=1e-3,
                        help='peak learning rate (AdamW, poly decay)')
    parser.add_argument('--short-side', type=int, default=384,
                        help='short side of the resized images (long side '
                        '<= 640)')
    parser.add_argument('--val-interval', type=int,
                        help='also evaluate every N iterations (default: '
                        'only at the end)')
    parser.add_argument('--min-pq', type=float, default=80.0,
                        help='exit non-zero below this PQ (percent)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--data-root', default=DEFAULT_DATA_ROOT,
                        help='the coco_panoptic_sample folder (default: '
                        'tests/data/coco_panoptic_sample of the repository)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the generated config, e.g. '
        'model.panoptic_head.thing_generator.pos_num=7')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Train, evaluate and report.

    Returns:
        int: 0 if PQ >= ``--min-pq``, 1 otherwise.
    """
    args = parse_args(argv)
    data_root = args.data_root
    ann_file = osp.join(data_root, ANN_FILE)
    if not osp.isfile(ann_file):
        raise FileNotFoundError(
            f'{ann_file} not found: point --data-root to a '
            'coco_panoptic_sample folder (the layout of '
            'tests/data/coco_panoptic_sample)')
    register_all_modules(init_default_scope=False)
    cfg = build_config(data_root, osp.abspath(args.work_dir), args.iters,
                       args.lr, args.short_side, args.val_interval,
                       args.seed)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)

    start = time.perf_counter()
    runner = Runner.from_cfg(cfg)
    runner.train()  # evaluates after the last iteration
    minutes = (time.perf_counter() - start) / 60

    # the runtime-info hook keeps the last evaluation's scalars
    def last(key: str) -> float:
        return runner.message_hub.get_scalar(
            f'val/{METRIC_PREFIX}/{key}').current()

    metrics = {key: last(key) for key in METRIC_KEYS}
    per_class = {name: last(f'{name}_PQ')
                 for name in gt_category_names(ann_file)}
    passed = bool(metrics['PQ'] >= args.min_pq)
    with open(osp.join(cfg.work_dir, 'overfit_check.json'), 'w') as f:
        json.dump(dict(metrics, per_class_PQ=per_class, iters=args.iters,
                       minutes=minutes, min_pq=args.min_pq, passed=passed),
                  f, indent=2)
    print('per-class PQ: ' + ', '.join(f'{name} {pq:.1f}'
                                       for name, pq in per_class.items()))
    print(f'overfit check, {args.iters} iterations in {minutes:.1f} min: '
          + ', '.join(f'{key} {metrics[key]:.1f}' for key in HEADLINE)
          + f' -> {"PASS" if passed else "FAIL"} (min PQ {args.min_pq})')
    return 0 if passed else 1


if __name__ == '__main__':
    sys.exit(main())
