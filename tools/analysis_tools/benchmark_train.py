"""Training speed of a config, one iteration split into its stages (a
benchmark, not a test).

``python tools/analysis_tools/benchmark_train.py CONFIG [--batch-size B]
[--iters N] [--data-root DIR | --img-size H W] [--keep-freed-memory]
[--compile] [--seed S] [--cfg-options ...]``

Stages, timed in one process (CUDA synchronised at every boundary):

- ``data``: waiting for the next batch of the config's train dataloader,
  plus the data preprocessor (normalise, pad, move to the device);
- ``forward``: backbone, FPN, semantic FPN, kernel generator and feature
  encoder (``model.loss`` minus the two stages below);
- ``targets``: ``PanopticFCNTargetGenerator.get_targets`` of every image;
- ``losses``: ``PanopticFCNHead.loss_by_feat`` (kernel gathering, mask
  logits, the four losses);
- ``backward``; ``step``: gradient clipping and the optimiser step.

``--compile`` compiles ``model.train_step`` with ``torch.compile`` as
mmengine's ``Runner(compile=True)`` does (``compile=True`` in a config);
the compiled step cannot be cut into stages, so its table has ``data`` and
``train_step`` (everything else). The warm-up iterations include the
compilation. ``--keep-freed-memory`` applies
:func:`mmpfcn.utils.keep_freed_memory` (glibc keeps freed memory for
reuse) before anything is allocated. The loss of every iteration is
printed, so that two runs with the same ``--seed`` can be compared.

Peak memory: ``torch.cuda.max_memory_allocated`` on a GPU, the peak
resident set of this process on the CPU (dataloader workers excluded).

Data: ``--data-root`` trains on a COCO-panoptic folder in the config's
layout with the config's pipeline. Without it a synthetic COCO-panoptic set
(:mod:`mmpfcn.datasets.synthetic`, 4 thing + 4 stuff classes) of
``--img-size`` images is written to a temporary folder and the config's
random resizes are replaced by a fixed resize to that size, so every
iteration does the same work. Weights: the config's init; add
``--cfg-options model.backbone.init_cfg=None`` for a random backbone
without a download.
"""
import argparse
import copy
import resource
import sys
import tempfile
import time
from collections import defaultdict
from typing import Callable, Dict, List

import torch
from mmengine.config import Config, DictAction
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmengine.runner import Runner, set_random_seed

from mmpfcn.registry import MODELS
from mmpfcn.utils import keep_freed_memory, register_all_modules

STAGES = ('data', 'forward', 'targets', 'losses', 'backward', 'step')
COMPILED_STAGES = ('data', 'train_step')
RESIZES = ('Resize', 'RandomResize', 'RandomChoiceResize')


def parse_args(argv: List[str] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Time the stages of a training iteration')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--batch-size', type=int, default=None,
        help='images per iteration (default: the config\'s)')
    parser.add_argument(
        '--iters', type=int, default=5, help='timed iterations')
    parser.add_argument(
        '--warmup', type=int, default=1,
        help='untimed iterations before them')
    parser.add_argument(
        '--data-root', help='a COCO-panoptic folder in the config\'s layout '
        '(default: synthetic images of --img-size)')
    parser.add_argument(
        '--img-size', type=int, nargs=2, default=(512, 512),
        metavar=('H', 'W'), help='size of the synthetic images')
    parser.add_argument(
        '--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument(
        '--keep-freed-memory', action='store_true',
        help='mmpfcn.utils.keep_freed_memory before anything is allocated')
    parser.add_argument(
        '--compile', action='store_true',
        help='torch.compile model.train_step, as mmengine\'s compile=True')
    parser.add_argument(
        '--seed', type=int, default=0,
        help='seed of the weights and the data order (default 0)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings')
    return parser.parse_args(argv)


def use_synthetic_data(cfg: Config, root: str, img_size, num_images: int,
                       seed: int = 0) -> None:
    """Point ``cfg.train_dataloader`` at a new synthetic dataset under
    ``root`` and make its resize a fixed one to ``img_size`` (H, W)."""
    from mmpfcn.datasets.synthetic import (
        make_synthetic_panoptic,
        synthetic_metainfo,
    )
    height, width = img_size
    make_synthetic_panoptic(
        root, num_train=num_images, num_val=1, seed=seed, height=height,
        width=width)
    meta = synthetic_metainfo()
    dataset = cfg.train_dataloader.dataset
    dataset.update(
        data_root=root.rstrip('/') + '/',
        ann_file='annotations/panoptic_train.json',
        data_prefix=dict(img='train/', seg='annotations/panoptic_train/'),
        metainfo=meta)
    pipeline = []
    for step in dataset.pipeline:
        step = copy.deepcopy(step)
        if step['type'] in RESIZES:
            step = dict(type='Resize', scale=(width, height), keep_ratio=True)
        elif step['type'] == 'GenerateStuffMap':
            step.update(
                num_things_classes=len(meta['thing_classes']),
                num_stuff_classes=len(meta['stuff_classes']))
        pipeline.append(step)
    dataset.pipeline = pipeline


class StageTimer:
    """Wall time per stage, summed over the timed iterations."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.seconds: Dict[str, float] = defaultdict(float)
        self.active = False

    def now(self) -> float:
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
        return time.perf_counter()

    def wrap(self, stage: str, fn: Callable) -> Callable:
        """``fn`` whose time is added to ``stage`` while timing is on."""

        def timed(*args, **kwargs):
            start = self.now()
            result = fn(*args, **kwargs)
            if self.active:
                self.seconds[stage] += self.now() - start
            return result

        return timed


def run(args: argparse.Namespace) -> Dict[str, float]:
    """Train ``args.warmup + args.iters`` iterations; returns the mean
    milliseconds per stage (:data:`STAGES`, or :data:`COMPILED_STAGES`
    with ``--compile``), ``peak_memory_mb``, ``batch_size`` and
    ``loss_per_iter`` (the total loss of every iteration, warm-up included)."""
    if args.keep_freed_memory and not keep_freed_memory():
        sys.exit('--keep-freed-memory: this C library has no mallopt')
    register_all_modules(init_default_scope=False)
    set_random_seed(args.seed)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.batch_size is not None:
        cfg.train_dataloader.batch_size = args.batch_size
    batch_size = cfg.train_dataloader.batch_size
    total = args.warmup + args.iters
    tmp = None
    if args.data_root:
        cfg.train_dataloader.dataset.data_root = args.data_root
    else:
        tmp = tempfile.TemporaryDirectory(prefix='benchmark_train_')
        use_synthetic_data(cfg, tmp.name, args.img_size,
                           num_images=max(8, batch_size * total))
    device = torch.device(args.device)

    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
        model.init_weights()
        model = model.to(device).train()
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    timer = StageTimer(device)
    if args.compile:
        return run_compiled(args, model, optim_wrapper, loader, timer,
                            batch_size, tmp)
    head = model.panoptic_head
    head.target_generator.get_targets = timer.wrap(
        'targets', head.target_generator.get_targets)
    head.loss_by_feat = timer.wrap('losses', head.loss_by_feat)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)

    batches = iter(loader)
    iteration_losses = []
    for it in range(total):
        timer.active = it >= args.warmup
        ticks = [timer.now()]
        try:
            data = next(batches)
        except StopIteration:
            batches = iter(loader)
            data = next(batches)
        data = model.data_preprocessor(data, training=True)
        ticks.append(timer.now())
        losses = model.loss(data['inputs'], data['data_samples'])
        loss, _ = model.parse_losses(losses)
        ticks.append(timer.now())
        iteration_losses.append(loss.item())
        optim_wrapper.backward(loss)
        ticks.append(timer.now())
        optim_wrapper.step()
        optim_wrapper.zero_grad()
        ticks.append(timer.now())
        if timer.active:
            for stage, start, end in zip(('data', 'loss', 'backward', 'step'),
                                         ticks, ticks[1:]):
                timer.seconds[stage] += end - start
    seconds = timer.seconds
    seconds['forward'] = seconds.pop('loss') - seconds['targets'] - \
        seconds['losses']
    return finish(args, seconds, STAGES, iteration_losses, device,
                  batch_size, tmp)


def run_compiled(args: argparse.Namespace, model: torch.nn.Module,
                 optim_wrapper, loader, timer: StageTimer, batch_size: int,
                 tmp) -> Dict[str, float]:
    """:func:`run` with ``model.train_step`` compiled as mmengine's
    ``Runner(compile=True)`` does: times ``data`` (the dataloader) and
    ``train_step`` (preprocessing, forward, losses, backward, step)."""
    train_step = torch.compile(model.train_step)
    batches = iter(loader)
    iteration_losses = []
    for it in range(args.warmup + args.iters):
        timer.active = it >= args.warmup
        start = timer.now()
        try:
            data = next(batches)
        except StopIteration:
            batches = iter(loader)
            data = next(batches)
        loaded = timer.now()
        log_vars = train_step(data, optim_wrapper)
        done = timer.now()
        iteration_losses.append(float(log_vars['loss']))
        if timer.active:
            timer.seconds['data'] += loaded - start
            timer.seconds['train_step'] += done - loaded
    return finish(args, timer.seconds, COMPILED_STAGES, iteration_losses,
                  timer.device, batch_size, tmp)


def finish(args: argparse.Namespace, seconds: Dict[str, float],
           stages: tuple, iteration_losses: List[float],
           device: torch.device, batch_size: int, tmp) -> Dict[str, float]:
    """The result of :func:`run`: mean ms per stage, peak memory, batch
    size and losses; removes the synthetic data folder ``tmp``."""
    result = {stage: 1000 * seconds[stage] / args.iters for stage in stages}
    if device.type == 'cuda':
        peak = torch.cuda.max_memory_allocated(device) / 2**20
    else:  # ru_maxrss is in KiB on Linux
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result.update(peak_memory_mb=peak, batch_size=batch_size,
                  loss_per_iter=iteration_losses)
    if tmp is not None:
        tmp.cleanup()
    return result


def report(result: Dict[str, float], args: argparse.Namespace) -> str:
    """A markdown table of the stages with their share of the iteration."""
    stages = COMPILED_STAGES if args.compile else STAGES
    iteration = sum(result[stage] for stage in stages)
    settings = [name for name, on in (('torch.compile', args.compile),
                                      ('keep_freed_memory',
                                       args.keep_freed_memory)) if on]
    lines = [
        f'{args.config}: {result["batch_size"]} images per iteration, mean of '
        f'{args.iters} iterations on {args.device}'
        f'{", " + " + ".join(settings) if settings else ""}',
        '',
        '| stage | ms / iter | share |',
        '|---|---|---|',
    ]
    for stage in stages:
        lines.append(f'| {stage} | {result[stage]:.1f} | '
                     f'{100 * result[stage] / iteration:.1f}% |')
    lines.append(f'| iteration | {iteration:.1f} | 100% |')
    lines.append('')
    if not args.compile:
        ours = result['targets'] + result['losses']
        lines.append(f'targets + losses: {ours:.1f} ms = '
                     f'{100 * ours / iteration:.1f}% of the iteration')
    memory = 'CUDA max allocated' if args.device.startswith('cuda') else \
        'peak RSS of the process'
    lines += [
        f'peak memory ({memory}): {result["peak_memory_mb"]:.0f} MB',
        'loss per iteration (warm-up first, seed '
        f'{args.seed}): ' +
        ', '.join(f'{v:.8g}' for v in result['loss_per_iter']),
    ]
    return '\n'.join(lines)


def main(argv: List[str] = None) -> Dict[str, float]:
    args = parse_args(argv)
    if args.iters < 1:
        sys.exit('--iters must be at least 1')
    result = run(args)
    print(report(result, args))
    return result


if __name__ == '__main__':
    main()
