"""Evaluate a Panoptic FCN checkpoint: ``python tools/test.py CONFIG CKPT``.

Prints PQ / SQ / RQ (all, things, stuff), mask AP and mIoU as configured in
the config's ``test_evaluator``; progress is logged every ``--log-interval``
images. ``--out results.pkl`` also dumps the predictions compactly
(:class:`~mmpfcn.evaluation.metrics.DumpPanopticResults`), which
``tools/analysis_tools/eval_metric.py`` re-scores and
``tools/analysis_tools/analyze_results.py`` ranks by PQ. The model's
instance masks are pycocotools RLEs, which the metrics, the dump and the
pictures take (:mod:`mmpfcn.utils.runner_outputs`), unless the config or
``--cfg-options model.test_cfg.instance_masks=bitmap`` names a form.
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmpfcn.evaluation.metrics import DumpPanopticResults
from mmpfcn.utils import (
    CheckpointLoadError,
    ConfigKeyError,
    check_config,
    enable_tta,
    exit_with_parent,
    keep_freed_memory,
    register_all_modules,
    setup_distributed,
    trust_checkpoints,
    use_rle_instance_masks,
)
from mmpfcn.utils.checkpoint_fit import CheckpointMismatchError


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) a Panoptic FCN model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir', help='the dir to save the evaluation metrics')
    parser.add_argument(
        '--out',
        type=str,
        help='dump the predictions to a pickle file (compact: PNG-encoded '
        'maps, RLE masks) for eval_metric.py / analyze_results.py')
    parser.add_argument(
        '--show', action='store_true', help='show the predictions')
    parser.add_argument(
        '--show-dir',
        help='save painted predictions (next to the ground truth) in '
        'WORK_DIR/TIMESTAMP/SHOW_DIR')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='interval of --show (s)')
    parser.add_argument(
        '--log-interval',
        type=int,
        default=None,
        help='log progress every N test iterations (images x batch)')
    parser.add_argument(
        '--fuse-conv-bn',
        action='store_true',
        help='fold the frozen BNs into the convolutions (CPU speed-up; '
        'outputs move by float rounding)')
    parser.add_argument(
        '--channels-last',
        action='store_true',
        help='channels-last weights (CPU speed-up; outputs move by float '
        'rounding)')
    parser.add_argument(
        '--keep-freed-memory',
        action='store_true',
        help='keep freed memory in glibc\'s heap for the whole process '
        '(mmpfcn.utils.keep_freed_memory: CPU speed-up, same results; the '
        'process keeps its peak memory until it exits)')
    parser.add_argument(
        '--tta',
        action='store_true',
        help='test-time augmentation: the config\'s tta_pipeline '
        '(flips, scales) and tta_model (merges the views)')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='load checkpoints with full pickle, which runs any code they '
        'hold (only for files you trust that a weights-only load refuses; '
        'same as MMPFCN_TRUST_CHECKPOINTS=1)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. '
        'test_evaluator.0.classwise=True (the per-class table of the '
        'first metric of the list)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def enable_visualization(cfg: Config, args: argparse.Namespace) -> Config:
    """Switch on the visualization hook for ``--show`` / ``--show-dir``."""
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        raise RuntimeError('--show/--show-dir need a `visualization` entry '
                           'in `default_hooks` of the config')
    hook['draw'] = True
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if args.show_dir:
        hook['test_out_dir'] = args.show_dir
    return cfg


def main() -> None:
    args = parse_args()
    # no dataloader worker outlives this process, however it ends
    exit_with_parent()
    if args.keep_freed_memory:
        keep_freed_memory()
    register_all_modules(init_default_scope=False)
    if args.trust_checkpoint:
        trust_checkpoints()

    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    try:
        if args.tta:
            enable_tta(cfg)
        # typos fail here, naming their key, before any data is read
        check_config(cfg)
    except ConfigKeyError as error:
        raise SystemExit(f'tools/test.py: error: {error}')

    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    # a checkpoint of another config is refused, its keys listed (mmengine
    # would load what fits and evaluate the rest at random)
    cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
        dict(type='CheckpointFitHook', checkpoint=args.checkpoint)
    ]
    if args.log_interval is not None:
        cfg.default_hooks.logger.interval = args.log_interval
    if args.show or args.show_dir:
        cfg = enable_visualization(cfg, args)
    if args.fuse_conv_bn or args.channels_last:
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='OptimizeForInferenceHook',
                 fuse_conv_bn=args.fuse_conv_bn,
                 channels_last=args.channels_last)
        ]

    setup_distributed(cfg, args.launcher)
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    # instance masks as RLE, which every consumer of the outputs takes
    use_rle_instance_masks(runner.model, cfg)

    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise SystemExit('tools/test.py: error: --out must end with '
                             f'.pkl or .pickle, got {args.out!r}')
        runner.test_evaluator.metrics.append(
            DumpPanopticResults(out_file_path=args.out))
    try:
        runner.test()
    except (CheckpointLoadError, CheckpointMismatchError) as error:
        raise SystemExit(f'tools/test.py: error: {error}')


if __name__ == '__main__':
    main()
