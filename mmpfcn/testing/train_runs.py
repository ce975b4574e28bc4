"""Helpers of the training-tool tests: a tiny config on the synthetic
dataset, free 127.0.0.1 ports, subprocess runs of the tools with a
timeout, the probe records of :mod:`mmpfcn.testing.train_probe`, and
what two runs of the test tools printed and dumped."""
import json
import os
import os.path as osp
import re
import signal
import socket
import subprocess
import sys
from typing import Dict, List, Optional

import numpy as np

from mmpfcn.evaluation.metrics import load_predictions

PROJECT_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = osp.join(PROJECT_ROOT, 'tools')
SYNTHETIC_CONFIG = osp.join(PROJECT_ROOT, 'configs', 'panoptic_fcn',
                            'panoptic-fcn_r18_fpn_synthetic-panoptic.py')

# the synthetic images at their generated size, no random augmentation
FIXED_PIPELINE = """[
    dict(type='LoadImageFromFile'),
    dict(type='LoadPanopticFCNAnnotations'),
    dict(type='Resize', scale=(128, 96), keep_ratio=True),
    dict(type='GenerateStuffMap', num_things_classes=4,
         num_stuff_classes=4),
    dict(type='PackDetInputs')
]"""


def write_config(path: str,
                 data_root: str,
                 max_iters: int,
                 batch_size: int = 2,
                 checkpoint_interval: int = 1,
                 fixed_pipeline: bool = False,
                 extra: str = '') -> str:
    """A config inheriting the synthetic demo config for short CPU runs:
    no validation, no dataloader workers, deterministic, constant LR, every
    iteration logged and probed; ``fixed_pipeline`` replaces the random
    resize and flip by :data:`FIXED_PIPELINE`; ``extra`` is appended as
    Python config text.

    Returns:
        str: ``path``.
    """
    root = data_root.rstrip('/') + '/'
    pipeline = f', pipeline={FIXED_PIPELINE}' if fixed_pipeline else ''
    text = f"""_base_ = {SYNTHETIC_CONFIG!r}
custom_imports = dict(
    imports=['mmpfcn.testing.train_probe'], allow_failed_imports=False)
custom_hooks = [dict(type='TrainProbeHook')]
randomness = dict(seed=0, deterministic=True)
train_cfg = dict(max_iters={max_iters}, val_interval=1000000)
param_scheduler = []
val_cfg = None
val_dataloader = None
val_evaluator = None
train_dataloader = dict(
    batch_size={batch_size}, num_workers=0, persistent_workers=False,
    dataset=dict(data_root={root!r}{pipeline}))
test_dataloader = dict(
    num_workers=0, persistent_workers=False, dataset=dict(data_root={root!r}))
test_gt = dict(
    ann_file={root + 'annotations/panoptic_val.json'!r},
    seg_prefix={root + 'annotations/panoptic_val/'!r})
test_evaluator = [
    dict(type='PanopticQualityMetric', **test_gt),
    dict(type='PanopticMaskAPMetric', **test_gt),
    dict(type='SemanticIoUMetric', **test_gt),
]
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval={checkpoint_interval}, max_keep_ckpts=-1),
    visualization=dict(draw=False))
{extra}
"""
    with open(path, 'w') as f:
        f.write(text)
    return path


def free_port() -> int:
    """A TCP port of 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def tool_env(**extra: str) -> Dict[str, str]:
    """The environment of a tool run: this checkout first on the path
    (the probe is :mod:`mmpfcn.testing.train_probe`), one thread per
    process, the test interpreter."""
    env = dict(os.environ)
    env.update(
        PYTHONPATH=PROJECT_ROOT,
        OMP_NUM_THREADS='1',
        PYTHON=sys.executable)
    env.update(extra)
    return env


def run_tool(
        args: List[str],
        cwd: str,
        timeout: float = 300,
        env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    """Run ``args`` (a tool or a shell script) to completion; a run that
    outlives ``timeout`` is killed with its process group and fails."""
    proc = subprocess.Popen(
        args,
        cwd=cwd,
        env=env or tool_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_tree(proc)
        out, _ = proc.communicate()
        raise AssertionError(f'{args} did not finish in {timeout} s:\n'
                             f'{out[-3000:]}')
    return subprocess.CompletedProcess(args, proc.returncode, out, '')


def _descendants(pid: int) -> List[int]:
    """Process ids below ``pid`` (from /proc: torchrun puts every worker
    into its own session, out of reach of a process-group kill)."""
    children: Dict[int, List[int]] = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/stat') as f:
                # "pid (comm) state ppid ...": comm may hold spaces
                ppid = int(f.read().rsplit(')', 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL ``proc`` and every process below it."""
    for pid in [proc.pid] + _descendants(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def python_tool(name: str) -> List[str]:
    """``[python, tools/NAME]``."""
    return [sys.executable, osp.join(TOOLS, name)]


def shell_tool(name: str) -> List[str]:
    """``[bash, tools/NAME]``."""
    return ['bash', osp.join(TOOLS, name)]


def read_probe(work_dir: str, rank: int = 0) -> List[dict]:
    """The probe records of one rank, in iteration order."""
    path = osp.join(work_dir, f'probe_rank{rank}.jsonl')
    if not osp.isfile(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def printed_metrics(output: str) -> Dict[str, float]:
    """The ``coco_panoptic/...`` numbers printed by tools/test.py."""
    return {
        key: float(value)
        for key, value in re.findall(r'coco_panoptic/(\w+): (-?[\d.]+)',
                                     output)
    }


def assert_same_dumped_panoptic_maps(dump_a: str, dump_b: str,
                                     num_images: int) -> None:
    """Two ``tools/test.py --out`` dumps hold ``num_images`` images in
    the same order with the same (1, H, W) panoptic map each (decoded by
    :func:`load_predictions` as numpy arrays)."""
    preds_a, preds_b = load_predictions(dump_a), load_predictions(dump_b)
    assert len(preds_a) == len(preds_b) == num_images
    for a, b in zip(preds_a, preds_b):
        assert a['img_id'] == b['img_id']
        pan_a = a['pred_panoptic_seg']['sem_seg']
        pan_b = b['pred_panoptic_seg']['sem_seg']
        assert pan_a.dtype == pan_b.dtype and pan_a.ndim == 3
        assert np.array_equal(pan_a, pan_b)
