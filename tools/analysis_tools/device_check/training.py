"""Check (2): a few training steps on the device in fp32, bf16 and fp16,
every loss finite, and the fp32 first-iteration losses equal to the
reference device's."""
import contextlib
import copy
import math
import os.path as osp
from typing import Callable, List

import benchmark
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmengine.runner import set_random_seed
from mmengine.runner.amp import autocast

from mmpfcn.registry import DATASETS

from .compare import max_relative_difference
from .equality import REL_TOL
from .models import RESIZES, SEED, scale_size
from .precision import synchronize
from .table import FAIL, NA, PASS, Row, error_text, tolerance_row

SAMPLE_ROOT = osp.join(benchmark.ROOT, 'tests/data/coco_panoptic_sample')
COCO_DATASET = osp.join(benchmark.ROOT,
                        'configs/_base_/datasets/coco_panoptic.py')
COCO_CLASSES = (80, 53)
AMP_DTYPES = {'bf16': 'bfloat16', 'fp16': 'float16'}
PRECISIONS = ('fp32', 'bf16', 'fp16')


def train_dataset(model: torch.nn.Module, scale: int):
    """The COCO sample with the COCO training recipe, made deterministic:
    a fixed resize to short side ``scale``, no flip.

    Raises:
        ValueError: The model's head has not COCO's 80 + 53 classes.
    """
    counts = (model.panoptic_head.num_things_classes,
              model.panoptic_head.num_stuff_classes)
    if counts != COCO_CLASSES:
        raise ValueError(
            f'gpu_check trains on the COCO sample ({SAMPLE_ROOT}): the model '
            f'needs {COCO_CLASSES[0]} thing + {COCO_CLASSES[1]} stuff '
            f'classes, got {counts[0]} + {counts[1]} (set them with '
            '--cfg-options model.panoptic_head.num_things_classes=80 '
            'model.panoptic_head.num_stuff_classes=53)')
    dataset = copy.deepcopy(
        Config.fromfile(COCO_DATASET).train_dataloader.dataset)
    pipeline = []
    for step in dataset.pipeline:
        if step['type'] in RESIZES:
            step = dict(type='PanopticResize', backend='pillow',
                        scale=scale_size(scale), keep_ratio=True)
        elif step['type'] == 'RandomFlip':
            continue
        pipeline.append(step)
    dataset.update(data_root=SAMPLE_ROOT, ann_file='panoptic_examples.json',
                   data_prefix=dict(img='images/', seg='panoptic/'),
                   pipeline=pipeline)
    with DefaultScope.overwrite_default_scope('mmpfcn'):
        return DATASETS.build(dataset)


def training_batch(dataset) -> dict:
    """Every image of ``dataset`` in one collated batch."""
    return pseudo_collate([dataset[i] for i in range(len(dataset))])


def batches_equal(a: dict, b: dict) -> bool:
    """Same images, thing masks, labels and stuff maps."""
    for x, y in zip(a['inputs'], b['inputs']):
        if not torch.equal(x, y):
            return False
    for x, y in zip(a['data_samples'], b['data_samples']):
        gx, gy = x.gt_instances, y.gt_instances
        if not (torch.equal(gx.labels, gy.labels) and
                (gx.masks.masks == gy.masks.masks).all() and
                torch.equal(x.gt_sem_seg.sem_seg, y.gt_sem_seg.sem_seg)):
            return False
    return True


def step_context(precision: str, device: torch.device
                 ) -> Callable[[], contextlib.AbstractContextManager]:
    """Extra context of a training step: on a CPU, bf16 autocast (the
    ``AmpOptimWrapper`` that CUDA uses brings its own, and refuses a
    CPU)."""
    if precision == 'bf16' and device.type == 'cpu':
        return lambda: autocast(device_type='cpu', dtype=torch.bfloat16)
    return contextlib.nullcontext


def precision_label(precision: str, device: torch.device) -> str:
    """How ``precision`` is trained on ``device``."""
    if precision == 'fp32':
        return 'fp32'
    if device.type == 'cuda':
        return f'{precision} (AmpOptimWrapper)'
    return f'{precision} (torch.autocast cpu, OptimWrapper)'


def train(model: torch.nn.Module, batch: dict, optim_cfg: dict,
          device: torch.device, precision: str, iters: int) -> List[dict]:
    """``iters`` training steps of a copy of ``model`` on ``device`` with
    the config's optimizer, in ``precision`` (one of :data:`PRECISIONS`).

    Returns:
        list[dict]: The logged losses (floats) of every iteration.
    """
    model = copy.deepcopy(model).to(device).train()
    optim_cfg = copy.deepcopy(optim_cfg)
    if precision != 'fp32' and device.type == 'cuda':
        optim_cfg.update(type='AmpOptimWrapper', dtype=AMP_DTYPES[precision])
    else:
        optim_cfg['type'] = 'OptimWrapper'
        optim_cfg.pop('dtype', None)
        optim_cfg.pop('loss_scale', None)
    optim_wrapper = build_optim_wrapper(model, optim_cfg)
    context = step_context(precision, device)
    losses = []
    for _ in range(iters):
        with context():
            log_vars = model.train_step(copy.deepcopy(batch), optim_wrapper)
        losses.append({k: float(v.detach()) for k, v in log_vars.items()})
    synchronize(device)
    return losses


def compare_losses(losses: dict, reference: dict, label: str) -> Row:
    """The row of the first-iteration comparison: the worst relative
    difference over the reference's loss terms (a missing term: inf)."""
    diffs = {k: max_relative_difference(torch.tensor(losses[k]),
                                        torch.tensor(v))
             if k in losses else math.inf for k, v in reference.items()}
    worst = max(diffs, key=diffs.get)
    return tolerance_row(label + ' (max relative difference)', diffs[worst],
                         REL_TOL, worst)


def check_training(model: torch.nn.Module, scale: int, iters: int,
                   device: torch.device,
                   ref_device: torch.device) -> List[Row]:
    """The batch is built the same twice; ``iters`` steps in every
    precision the device trains in, losses finite; fp32 first-iteration
    losses against one step on ``ref_device``."""
    dataset = train_dataset(model, scale)
    batch = training_batch(dataset)
    same = batches_equal(batch, training_batch(dataset))
    rows = [Row('training batch: built twice', 'identical' if same else
                'differs', 'identical', PASS if same else FAIL)]
    optim_cfg = model.cfg.optim_wrapper
    fp32 = None
    for precision in PRECISIONS:
        if precision == 'fp16' and device.type != 'cuda':
            rows.append(Row(f'training fp16 on {device}', 'not run: fp16 '
                            'training needs CUDA (AmpOptimWrapper)',
                            'finite', NA))
            continue
        label = (f'training {precision_label(precision, device)} on '
                 f'{device}, {iters} iterations: losses finite')
        set_random_seed(SEED)
        try:
            losses = train(model, batch, optim_cfg, device, precision, iters)
        except Exception as err:  # noqa: BLE001 (reported in the table)
            rows.append(Row(label, error_text(err), 'finite', FAIL))
            continue
        finite = all(math.isfinite(v) for it in losses for v in it.values())
        rows.append(Row(label, f"loss {losses[0]['loss']:.4f} -> "
                        f"{losses[-1]['loss']:.4f}", 'finite',
                        PASS if finite else FAIL))
        if precision == 'fp32':
            fp32 = losses[0]
    label = f'fp32 first-iteration losses: {device} vs {ref_device}'
    if fp32 is None:
        rows.append(Row(label, 'not run (fp32 training failed)',
                        f'<= {REL_TOL:.0e}', FAIL))
        return rows
    set_random_seed(SEED)
    try:
        reference = train(model, batch, optim_cfg, ref_device, 'fp32', 1)[0]
    except Exception as err:  # noqa: BLE001 (reported in the table)
        rows.append(Row(label, error_text(err), f'<= {REL_TOL:.0e}', FAIL))
        return rows
    rows.append(compare_losses(fp32, reference, label))
    return rows
