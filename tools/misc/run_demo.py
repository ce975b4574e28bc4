"""The demo of ``make demo``: synthetic dataset -> training -> PQ -> pictures.

1. writes the deterministic synthetic COCO-panoptic dataset (skipped when
   the same one is already there);
2. trains the demo config with an mmengine Runner on the CPU;
3. reloads the last checkpoint in a fresh Runner and evaluates it on the
   validation split (PQ / SQ / RQ for all, things and stuff, mask AP,
   mIoU), drawing a ground truth | prediction picture of every image;
4. writes ``results.md`` and ``results.json`` into the work dir and prints
   the table;
5. plots the logged training losses beside them (``curves.png``, as
   ``tools/analysis_tools/analyze_logs.py plot_curve`` draws them).

``python tools/misc/run_demo.py [--work-dir work_dirs/demo] [--seed N]
[--max-iters N]``: ``--seed`` seeds the training only, so that runs with
different seeds train on the same synthetic dataset (``--data-seed``).
"""
import argparse
import json
import os.path as osp
import sys
import time
from typing import Dict, List, Optional, Tuple

from mmengine.config import Config
from mmengine.runner import Runner

from mmpfcn.datasets.synthetic import make_synthetic_panoptic
from mmpfcn.utils import register_all_modules
from mmpfcn.visualization.training_curves import (
    load_scalars,
    plot_curve,
    resolve_key,
)

DEFAULT_CONFIG = ('configs/panoptic_fcn/'
                  'panoptic-fcn_r18_fpn_synthetic-panoptic.py')
STAMP = 'mmpfcn-synthetic.json'
# (metric key suffix, row name) of the results table
TABLE_ROWS = (('', 'All'), ('_th', 'Things'), ('_st', 'Stuff'))
# curves.png beside results.md: the loss terms, and PQ when the config
# validates during training
CURVE_KEYS = ('loss', 'loss_pos_th', 'loss_pos_st', 'loss_seg_th',
              'loss_seg_st', 'PQ')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Train and evaluate Panoptic FCN on the synthetic '
        'panoptic dataset (CPU demo)')
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--data-root', default='data/synthetic_panoptic')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--num-train', type=int, default=300)
    parser.add_argument('--num-val', type=int, default=50)
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the training (mmengine randomness: '
                        'weight init, data order, augmentation); the '
                        'dataset stays the same')
    parser.add_argument('--data-seed', type=int, default=0,
                        help='seed of the synthetic dataset')
    parser.add_argument('--max-iters', type=int, default=None,
                        help='override the config\'s training iterations')
    parser.add_argument('--min-pq', type=float, default=None,
                        help='exit with status 1 if PQ is below this')
    return parser.parse_args(argv)


def prepare_dataset(args: argparse.Namespace) -> None:
    """Write the synthetic dataset unless the same one is already there."""
    recipe = dict(num_train=args.num_train, num_val=args.num_val,
                  seed=args.data_seed)
    stamp = osp.join(args.data_root, STAMP)
    if osp.isfile(stamp):
        with open(stamp) as f:
            if json.load(f) == recipe:
                print('==> [demo] synthetic dataset: reusing '
                      f'{args.data_root}')
                return
    print(f'==> [demo] synthetic dataset: writing {args.num_train} train + '
          f'{args.num_val} val images to {args.data_root}')
    summary = make_synthetic_panoptic(args.data_root, **recipe)
    for split in ('train', 'val'):
        info = summary[split]
        print(f"    {split}: {info['num_images']} images, "
              f"{info['num_segments']} segments ({info['num_crowd']} crowd)")
    with open(stamp, 'w') as f:
        json.dump(recipe, f)


def demo_config(args: argparse.Namespace) -> Config:
    """The config with the demo's data root, work dir and training seed."""
    cfg = Config.fromfile(args.config)
    cfg.work_dir = args.work_dir
    cfg.randomness = dict(seed=args.seed)
    root = args.data_root.rstrip('/') + '/'
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = root
    for evaluator in ('val_evaluator', 'test_evaluator'):
        for metric in cfg[evaluator]:
            metric.update(ann_file=root + 'annotations/panoptic_val.json',
                          seg_prefix=root + 'annotations/panoptic_val/')
    if args.max_iters is not None:
        cfg.train_cfg.max_iters = args.max_iters
        for scheduler in cfg.param_scheduler:
            scheduler.end = min(scheduler.end, args.max_iters)
        # log at least once, so that curves.png has a point
        logger = cfg.default_hooks.logger
        logger.interval = max(1, min(logger.interval, args.max_iters))
    # a visualizer of its own: mmengine hands an existing instance of the
    # same name (the configs' 'visualizer') to a later runner of the same
    # process, whose scalars would then go to the earlier run's folder
    cfg.visualizer.name = f'mmpfcn-demo-{time.time_ns()}'
    return cfg


def train(cfg: Config) -> Tuple[float, str]:
    """Train; returns the wall time in seconds and the run's log folder."""
    cfg = cfg.copy()
    # evaluated once, after training, by the test runner: without a
    # validation loop mmengine's iteration loop would also validate at the
    # last iteration (twice the evaluation time, and the final PQ logged at
    # "iteration 0" of the training curves)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    start = time.perf_counter()
    runner = Runner.from_cfg(cfg)
    runner.train()
    return time.perf_counter() - start, runner.log_dir


def plot_training_curves(log_dir: str, out: str) -> Optional[str]:
    """Plot the loss terms (and PQ, if validated during training) of the
    run's ``scalars.json`` to ``out``; None if nothing was logged."""
    scalars = osp.join(log_dir, 'vis_data', 'scalars.json')
    if not osp.isfile(scalars):
        return None
    available = load_scalars(scalars)
    keys = [key for key in CURVE_KEYS if resolve_key(key, available)]
    if not keys:
        return None
    plot_curve([scalars], keys, out, title='make demo: training')
    return out


def evaluate(cfg: Config, checkpoint: str) -> Dict[str, float]:
    """Test ``checkpoint`` in a fresh Runner, drawing every image."""
    cfg = cfg.copy()
    cfg.load_from = checkpoint
    cfg.default_hooks.visualization = dict(
        type='PanopticVisualizationHook', draw=True, test_out_dir='vis')
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    metrics['vis_dir'] = osp.join(runner.work_dir, runner.timestamp, 'vis')
    return metrics


def results_table(metrics: Dict[str, float], prefix: str) -> str:
    """A Markdown table of PQ / SQ / RQ for all, things and stuff."""
    lines = ['|  | PQ | SQ | RQ |', '|---|---|---|---|']
    for suffix, name in TABLE_ROWS:
        values = [metrics.get(f'{prefix}/{key}{suffix}', float('nan'))
                  for key in ('PQ', 'SQ', 'RQ')]
        lines.append(f'| {name} | ' +
                     ' | '.join(f'{v:.1f}' for v in values) + ' |')
    return '\n'.join(lines)


def write_results(args: argparse.Namespace,
                  cfg: Config,
                  metrics: Dict[str, float],
                  train_seconds: float,
                  curves: Optional[str] = None) -> str:
    """Write results.md / results.json into the work dir; returns the text."""
    prefix = cfg.test_evaluator[0].get('prefix') or 'coco_panoptic'
    extra = {
        key.split('/')[-1]: value
        for key, value in metrics.items()
        if key.split('/')[-1] in ('AP', 'mIoU')
    }
    text = '\n'.join([
        '# mmpfcn demo: Panoptic FCN on the synthetic panoptic dataset', '',
        f'- config: `{args.config}`',
        f'- training: {cfg.train_cfg.max_iters} iterations, seed '
        f'{args.seed}, {train_seconds / 60:.1f} min on this machine (CPU)',
        f'- validation: {args.num_val} images of `{args.data_root}`', '',
        results_table(metrics, prefix), '',
        ', '.join(f'{key} {value:.1f}' for key, value in extra.items()), '',
        f"Pictures (ground truth | prediction): `{metrics['vis_dir']}`", ''
    ] + ([f'Training curves: `{curves}`', ''] if curves else []))
    with open(osp.join(args.work_dir, 'results.md'), 'w') as f:
        f.write(text)
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(dict(metrics, train_seconds=train_seconds), f, indent=2)
    return text


def main(argv: Optional[List[str]] = None) -> Dict[str, float]:
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    prepare_dataset(args)
    cfg = demo_config(args)
    print(f'==> [demo] training {args.config} for '
          f'{cfg.train_cfg.max_iters} iterations (logs in {args.work_dir})')
    train_seconds, log_dir = train(cfg)
    checkpoint = osp.join(args.work_dir,
                          f'iter_{cfg.train_cfg.max_iters}.pth')
    print(f'==> [demo] evaluating {checkpoint} on the validation split')
    metrics = evaluate(cfg, checkpoint)
    curves = plot_training_curves(log_dir,
                                  osp.join(args.work_dir, 'curves.png'))
    print('==> [demo] results\n' +
          write_results(args, cfg, metrics, train_seconds, curves))
    metrics['train_seconds'] = train_seconds
    return metrics


if __name__ == '__main__':
    result = main()
    min_pq = parse_args().min_pq
    pq = next(v for k, v in result.items() if k.endswith('/PQ'))
    if min_pq is not None and pq < min_pq:
        print(f'==> [demo] PQ {pq:.1f} is below --min-pq {min_pq}')
        sys.exit(1)
