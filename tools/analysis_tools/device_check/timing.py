"""Checks (3)-(5): end-to-end inference time (image array to panoptic
result, as the paper measures FPS) and peak memory on the device, of
Panoptic FCN (also under ``torch.compile`` on request) and of mmdet's
Panoptic FPN R50. Measurements, not checks: a Panoptic FCN run that raises
fails; a Panoptic FPN run that raises is reported as n/a."""
import contextlib
import copy
from typing import List, Sequence

import benchmark
import mmcv
import torch

from .mmcv_fallback import (
    divert_nms,
    mmcv_has_cuda_ops,
    use_torchvision_roi_align,
)
from .models import build_baseline, sample_images
from .precision import amp_dtype, inference_mode, synchronize
from .table import FAIL, INFO, NA, Row, error_text

MODES = ('fp32', 'tf32', 'amp')
DTYPE_NAMES = {torch.float16: 'fp16', torch.bfloat16: 'bf16'}
OURS = 'Panoptic FCN'
BASELINE = 'Panoptic FPN R50 (mmdet)'


def mode_label(mode: str, device: torch.device) -> str:
    """The table's name of an inference mode on ``device``."""
    if mode == 'amp':
        return f'AMP {DTYPE_NAMES[amp_dtype(device)]} autocast'
    return dict(fp32='fp32', tf32='TF32', compile='fp32 torch.compile')[mode]


def compiled_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A copy with the network modules (backbone, FPN, semantic FPN,
    kernel generator, feature encoder) under ``torch.compile``; the
    post-processing stays eager."""
    model = copy.deepcopy(model)
    head = model.panoptic_head
    for owner, name in ((model, 'backbone'), (model, 'neck'),
                        (model, 'semantic_fpn'), (head, 'kernel_generator'),
                        (head, 'feature_encoder')):
        setattr(owner, name, torch.compile(getattr(owner, name)))
    return model


def time_inference(model: torch.nn.Module, device: torch.device,
                   batch_size: int, runs: int, warmup: int,
                   mode: str) -> str:
    """FPS, latency and peak memory of ``runs`` batches of the sample
    images after ``warmup`` batches, the device synchronised after each
    batch; peak memory is ``torch.cuda.max_memory_allocated`` on CUDA
    (weights included), else the heap above the start
    (``benchmark.PeakMemory``)."""
    images = [mmcv.imread(p) for p in sample_images()]
    images = [images[i % len(images)] for i in range(runs * batch_size)]

    def step(data):
        results = model.test_step(data)
        synchronize(device)
        return results

    with inference_mode(mode, device):
        if device.type == 'cuda':
            torch.cuda.reset_peak_memory_stats(device)
        result = benchmark.time_model(step, model, images, batch_size,
                                      warmup)
    if device.type == 'cuda':
        memory = (f'peak {torch.cuda.max_memory_allocated(device) / 2**20:.0f}'
                  ' MB CUDA allocated')
    else:
        memory = f"peak {result['peak'] / 2**20:.0f} MB heap above start"
    return (f"{1 / result['total']:.1f} FPS ({1000 * result['total']:.1f} "
            f'ms / image), {memory}')


def timing_rows(name: str, model: torch.nn.Module, device: torch.device,
                scale: int, batch_sizes: Sequence[int], runs: int,
                warmup: int, modes: Sequence[str],
                fail_status: str) -> List[Row]:
    """A row per batch size and mode; a run that raises is
    ``fail_status``; TF32 is n/a off CUDA."""
    rows = []
    for batch_size in batch_sizes:
        for mode in modes:
            label = (f'inference {name}, short side {scale}, batch '
                     f'{batch_size}, {mode_label(mode, device)}')
            if mode == 'tf32' and device.type != 'cuda':
                rows.append(Row(label, f'n/a on {device.type}', '-', NA))
                continue
            try:
                value = time_inference(model, device, batch_size, runs,
                                       warmup, mode)
                status = INFO
            except Exception as err:  # noqa: BLE001 (reported in the table)
                value, status = error_text(err), fail_status
            rows.append(Row(label, value, '-', status))
    return rows


def baseline_rows(device: torch.device, scale: int,
                  batch_sizes: Sequence[int], runs: int,
                  warmup: int) -> List[Row]:
    """Panoptic FPN R50's rows; on CUDA with an mmcv without CUDA ops, its
    NMS and RoIAlign run torchvision's kernels (the name says so)."""
    name = BASELINE
    try:
        baseline = build_baseline(scale)
        context = contextlib.nullcontext()
        if device.type == 'cuda' and not mmcv_has_cuda_ops():
            use_torchvision_roi_align(baseline)
            context = divert_nms()
            name += ', NMS/RoIAlign from torchvision'
        baseline = baseline.to(device).eval()
    except Exception as err:  # noqa: BLE001 (reported in the table)
        return [Row(f'inference {name}', error_text(err), '-', NA)]
    with context:
        return timing_rows(name, baseline, device, scale, batch_sizes, runs,
                           warmup, MODES, NA)


def check_timing(model: torch.nn.Module, device: torch.device, scale: int,
                 batch_sizes: Sequence[int], runs: int, warmup: int,
                 compile_: bool) -> List[Row]:
    """Panoptic FCN's rows (fp32, TF32, AMP; and ``torch.compile`` if
    ``compile_``), then Panoptic FPN R50's."""
    ours = copy.deepcopy(model).to(device).eval()
    rows = timing_rows(OURS, ours, device, scale, batch_sizes, runs, warmup,
                       MODES, FAIL)
    if compile_:
        try:
            compiled = compiled_copy(ours)
        except Exception as err:  # noqa: BLE001 (reported in the table)
            rows.append(Row(f'inference {OURS}, torch.compile',
                            error_text(err), '-', FAIL))
        else:
            rows += timing_rows(OURS, compiled, device, scale, batch_sizes,
                                runs, warmup, ['compile'], FAIL)
            del compiled
    del ours
    return rows + baseline_rows(device, scale, batch_sizes, runs, warmup)
