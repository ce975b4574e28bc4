"""Train a Panoptic FCN model: ``python tools/train.py CONFIG [options]``.

``--resume`` without a path resumes from the newest checkpoint of the work
dir that loads (``last_checkpoint``'s first, broken ones skipped and named)
and stops with an error if there is none. Ctrl-C ends the run with one line
naming the last checkpoint (exit code 130).
"""
import argparse
import logging
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction
from mmengine.dist import is_main_process
from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmpfcn.engine import NoCheckpointError, find_resumable_checkpoint
from mmpfcn.utils import (
    CheckpointLoadError,
    ConfigKeyError,
    check_amp_device,
    check_config,
    exit_with_parent,
    keep_freed_memory,
    register_all_modules,
    setup_distributed,
    trust_checkpoints,
    use_rle_instance_masks,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a Panoptic FCN model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='enable automatic-mixed-precision training (CUDA only)')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate linearly with the total batch size '
        '(`auto_scale_lr.base_batch_size` in the config, 16 for COCO)')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or with no value from the '
        'latest checkpoint in the work dir')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='load checkpoints (--resume, load_from, pretrained weights) '
        'with full pickle, which runs any code they hold (only for files you '
        'trust that a weights-only load refuses; same as '
        'MMPFCN_TRUST_CHECKPOINTS=1)')
    parser.add_argument(
        '--keep-freed-memory',
        action='store_true',
        help='keep freed memory in glibc\'s heap for the whole process '
        '(mmpfcn.utils.keep_freed_memory: same losses; on the CPU R50 '
        'iteration of docs/benchmarks.md no measurable speed-up and a higher '
        'peak memory, so not the default)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. '
        'train_dataloader.batch_size=4 "model.backbone.depth=101"')
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
        if args.amp:
            check_amp_device()
    except RuntimeError as error:
        raise SystemExit(f'tools/train.py: error: {error}')
    try:
        # typos fail here, naming their key, before any data is read
        check_config(cfg)
    except ConfigKeyError as error:
        raise SystemExit(f'tools/train.py: error: {error}')

    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    if args.amp:
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper == 'AmpOptimWrapper':
            print_log('AMP training is already enabled in the config.',
                      logger='current', level=logging.WARNING)
        else:
            assert optim_wrapper == 'OptimWrapper', (
                '`--amp` is only supported with `OptimWrapper`, got '
                f'{optim_wrapper}.')
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'

    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or \
                'base_batch_size' not in cfg.auto_scale_lr:
            raise RuntimeError('--auto-scale-lr needs `auto_scale_lr` with '
                               '`base_batch_size` in the config')
        cfg.auto_scale_lr.enable = True

    if args.resume == 'auto':
        cfg.resume = True
        try:
            cfg.load_from = find_resumable_checkpoint(
                cfg.work_dir,
                warn=lambda text: print_log(
                    text, logger='current', level=logging.WARNING))
        except (NoCheckpointError, CheckpointLoadError) as error:
            raise SystemExit(f'tools/train.py: error: {error}')
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    setup_distributed(cfg, args.launcher)
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    # validation's instance masks as RLE, which the metrics take
    use_rle_instance_masks(runner.model, cfg)
    try:
        runner.train()
    except CheckpointLoadError as error:
        # --resume PATH, load_from or a Pretrained init_cfg
        raise SystemExit(f'tools/train.py: error: {error}')
    except BaseException as error:
        if not was_interrupted(error):
            raise
        if is_main_process():
            print(interrupted_message(runner), file=sys.stderr)
        raise SystemExit(130)


def was_interrupted(error: BaseException) -> bool:
    """Whether ``error`` is Ctrl-C's KeyboardInterrupt or was raised while
    handling one: libraries re-raise what interrupts them as their own
    error (mmengine's config formatting during a checkpoint save turns it
    into a SyntaxError)."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def interrupted_message(runner: Runner) -> str:
    """One line for Ctrl-C: the iteration and the checkpoint to resume
    (``last_checkpoint`` names only completely written ones)."""
    record, last = osp.join(runner.work_dir, 'last_checkpoint'), None
    if osp.isfile(record):
        with open(record) as f:
            last = f.read().strip()
    where = (f'last checkpoint: {last} (continue with --resume)'
             if last else 'no checkpoint saved yet')
    return (f'tools/train.py: interrupted at iteration {runner.iter}; '
            f'{where}')


if __name__ == '__main__':
    main()
