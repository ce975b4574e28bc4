"""Check Panoptic FCN on an accelerator against a reference device, train
it in mixed precision and time it beside mmdet's Panoptic FPN R50.

``python tools/analysis_tools/gpu_check.py [--device cuda] [--ref-device
cpu] [--config CONFIG] [--checkpoint CKPT] [--scale 800] [--iters 5]
[--batch-sizes 1 8] [--timing-runs 10] [--warmup 2] [--skip-timing]
[--compile] [--out table.md] [--cfg-options ...]``

On the two COCO images of ``tests/data/coco_panoptic_sample``, with one
model of fixed random weights (seeded; the config's init without the
pretrained backbone) or ``--checkpoint``, copied to both devices, with TF32
off except in the TF32 rows:

1. equality (:mod:`device_check.equality`): thing and stuff logits of the
   position head, kernel maps and F_e of ``--device`` against
   ``--ref-device`` in fp32 as the largest relative difference (<= 1e-4),
   and the panoptic maps (no pixel may differ);
2. training (:mod:`device_check.training`): ``--iters`` steps on both
   images at short side ``--scale`` (the config's optimizer; fixed resize,
   no flip) in fp32 and with mmengine's ``AmpOptimWrapper`` in bf16 and
   fp16 (on a CPU, which that wrapper refuses: bf16 through
   ``torch.autocast('cpu')``, fp16 not run); every loss finite, fp32
   first-iteration losses within 1e-4 relative of the reference device's;
3. timing (:mod:`device_check.timing`): end to end at ``--scale`` for each
   batch size in fp32, TF32 (CUDA only) and AMP (fp16 autocast on CUDA,
   bf16 on a CPU), after warm-up, synchronised per batch: FPS and peak
   memory;
4. the same timing for mmdet's Panoptic FPN R50 (random weights);
5. with ``--compile``, fp32 timing with the network under
   ``torch.compile``.

Prints one table (check, value, threshold, status) and returns 1 if a
check fails. ``--out`` is rewritten after each of the three parts, so a run
stopped by a time limit keeps the rows it reached. Timing rows are
measurements, not checks; a Panoptic FPN failure is n/a, not a failure.

Training reads the COCO sample with the COCO recipe of
``configs/_base_/datasets/coco_panoptic.py``, whatever the config's
dataset, so the model must have COCO's 80 thing and 53 stuff classes
(``--cfg-options`` can set them on a smaller model).
"""
import argparse
import datetime
import os.path as osp
import platform
import sys
from typing import List, Optional

import torch
from mmengine.config import DictAction
from mmengine.logging import MMLogger

from mmpfcn.utils import keep_freed_memory
from mmpfcn.utils.script_modules import import_script

# the sibling modules, by path (the tools are scripts, not a package):
# benchmark.py (device_check.models imports it as `benchmark`) and the
# device_check package
HERE = osp.dirname(osp.abspath(__file__))
benchmark = import_script(osp.join(HERE, 'benchmark.py'), 'benchmark')
import_script(osp.join(HERE, 'device_check'), 'device_check')
from device_check import equality, timing, training  # noqa: E402
from device_check.models import build_model  # noqa: E402
from device_check.precision import tf32  # noqa: E402
from device_check.table import exit_status, format_table  # noqa: E402

DEFAULT_CONFIG = osp.join(
    benchmark.ROOT,
    'configs/panoptic_fcn/panoptic-fcn_r50_fpn_3x_coco-panoptic.py')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Panoptic FCN on a device against a reference device: '
        'equal outputs, mixed-precision training, FPS beside Panoptic FPN')
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--ref-device', default='cpu')
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--checkpoint',
                        help='weights to compare and time (default: seeded '
                        'random weights)')
    parser.add_argument('--scale', type=int, default=800,
                        help='short side of the images (default 800)')
    parser.add_argument('--iters', type=int, default=5,
                        help='training iterations per precision')
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 8])
    parser.add_argument('--timing-runs', type=int, default=10,
                        help='timed batches per row')
    parser.add_argument('--warmup', type=int, default=2,
                        help='untimed batches before them')
    parser.add_argument('--skip-timing', action='store_true')
    parser.add_argument('--compile', action='store_true',
                        help='also time the network under torch.compile')
    parser.add_argument('--out', help='also write the table (markdown)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    for name in ('scale', 'iters', 'timing_runs'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be at least 1')
    if args.warmup < 0:
        parser.error('--warmup must be at least 0')
    if min(args.batch_sizes) < 1:
        parser.error('--batch-sizes must be at least 1')
    for name in ('device', 'ref_device'):
        option = f'--{name.replace("_", "-")}'
        try:
            device = torch.device(getattr(args, name))
        except RuntimeError as err:
            parser.error(f'{option}: {err}')
        if device.type == 'cuda' and not torch.cuda.is_available():
            parser.error(
                f'{option} {device}: no CUDA device (torch '
                f'{torch.__version__}, built with CUDA {torch.version.cuda}; '
                'torch.cuda.is_available() is False)')
    return args


def describe(device: torch.device) -> str:
    """The device's name (CUDA) or processor and thread count."""
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    return (f'{platform.processor() or platform.machine()}, '
            f'{torch.get_num_threads()} threads')


def report(args: argparse.Namespace, rows: list, done: bool) -> str:
    """The header, the table and the verdict (``'incomplete'`` until
    ``done``)."""
    device, ref_device = torch.device(args.device), torch.device(
        args.ref_device)
    weights = (f' + {args.checkpoint}' if args.checkpoint else
               ' (seeded random weights)')
    header = [
        f'gpu_check {datetime.date.today()}: {args.config}{weights}, '
        f'short side {args.scale}',
        f'device {device}: {describe(device)}; reference {ref_device}: '
        f'{describe(ref_device)}; torch {torch.__version__}',
        '',
    ]
    if exit_status(rows):
        verdict = 'FAILED'
    else:
        verdict = 'all checks passed' if done else 'incomplete'
    return '\n'.join(header) + format_table(rows) + f'\n\n{verdict}\n'


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    device, ref_device = torch.device(args.device), torch.device(
        args.ref_device)
    keep_freed_memory()  # as benchmark.py, for the CPU timings
    # the current logger: the optimiser builder's INFO lines stay out of
    # the table's way
    MMLogger.get_instance('gpu_check', log_level='WARNING')
    model = build_model(args.config, args.checkpoint, args.cfg_options,
                        args.scale)
    parts = [
        lambda: equality.check_equality(model, device, ref_device),
        lambda: training.check_training(model, args.scale, args.iters,
                                        device, ref_device),
    ]
    if not args.skip_timing:
        parts.append(lambda: timing.check_timing(
            model, device, args.scale, args.batch_sizes, args.timing_runs,
            args.warmup, args.compile))
    rows = []
    with tf32(False):
        for i, part in enumerate(parts):
            rows += part()
            text = report(args, rows, done=i == len(parts) - 1)
            if args.out:
                with open(args.out, 'w') as f:
                    f.write(text)
    print(text, end='')
    return exit_status(rows)


if __name__ == '__main__':
    sys.exit(main())
