"""Every schedule in configs/_base_/schedules/ follows the reference's solver
(panopticfcn/build_solver.py, detectron2's WarmupPolyLR) at every iteration,
and its weight decay is 1e-4 on weights and biases and 0 on norm layers."""
import glob
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from torch import nn

from mmpfcn.registry import PARAM_SCHEDULERS
from mmpfcn.utils.setup_env import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# the schedule files to check; MMPFCN_SCHEDULES_DIR points at another
# copy of the folder (e.g. an older checkout's, to see the test fail there)
SCHEDULES_DIR = os.environ.get(
    'MMPFCN_SCHEDULES_DIR', osp.join(ROOT, 'configs/_base_/schedules'))
SCHEDULES = sorted(
    osp.basename(p) for p in glob.glob(osp.join(SCHEDULES_DIR, '*.py')))

# the spec (docs PANOPTIC_FCN_SPEC.md, "Training"): base LR and iterations
# of each schedule; the warm-up is the same for all
SPEC = {
    'schedule_1x.py': (0.01, 90000),
    'schedule_2x.py': (0.01, 180000),
    'schedule_3x.py': (0.01, 270000),
    'schedule_poly_65k.py': (0.02, 65000),
    'schedule_poly_150k.py': (0.02, 150000),
}
WARMUP_ITERS = 1000
WARMUP_FACTOR = 0.001
POWER = 0.9
WEIGHT_DECAY = 1e-4
# detectron2's get_default_optimizer_params: no decay on these
NORM_TYPES = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm,
              nn.modules.instancenorm._InstanceNorm, nn.LayerNorm,
              nn.LocalResponseNorm)


def load(name: str) -> Config:
    return Config.fromfile(osp.join(SCHEDULES_DIR, name))


def reference_lr(base_lr: float, max_iter: int) -> np.ndarray:
    """detectron2's WarmupPolyLR for t = 0 .. max_iter - 1, shape
    (max_iter, )."""
    t = np.arange(max_iter, dtype=np.float64)
    alpha = t / WARMUP_ITERS
    warmup = np.where(t < WARMUP_ITERS,
                      WARMUP_FACTOR * (1 - alpha) + alpha, 1.0)
    return base_lr * warmup * (1 - t / max_iter)**POWER


def scheduled_lr(cfg: Config) -> np.ndarray:
    """The LR every iteration of ``cfg`` runs at, as mmengine's runner
    applies the schedule (the optimizer steps with the current LR, then
    ``ParamSchedulerHook.after_train_iter`` steps every iteration-based
    scheduler); one value per iteration and parameter group, shape
    (max_iters, num_groups)."""
    register_all_modules(init_default_scope=False)
    # one parameter, so one parameter group: paramwise_cfg gives every
    # parameter a group of its own, all with the same schedule
    model = nn.Linear(1, 1, bias=False)
    with DefaultScope.overwrite_default_scope('mmpfcn'):
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        # the group as a plain dict (the constructor leaves a ConfigDict,
        # whose item access is most of the time of 10^5 steps)
        optimizer = optim_wrapper.optimizer
        optimizer.param_groups = [dict(g) for g in optimizer.param_groups]
        cfgs = cfg.param_scheduler
        cfgs = cfgs if isinstance(cfgs, (list, tuple)) else [cfgs]
        schedulers = [
            PARAM_SCHEDULERS.build(dict(s, optimizer=optim_wrapper))
            for s in cfgs
        ]
    assert all(not s.by_epoch for s in schedulers)
    group, = optim_wrapper.param_groups
    steps = [s.step for s in schedulers]
    max_iters = cfg.train_cfg.max_iters
    lrs = np.empty(max_iters)
    optim_wrapper.step()  # no gradients: no update; as training does
    for t in range(max_iters):
        lrs[t] = group['lr']
        for step in steps:
            step()
    return lrs


def test_every_schedule_file_is_known():
    assert set(SCHEDULES) == set(SPEC), (
        f'{SCHEDULES_DIR}: add the new schedule to SPEC in this test')


@pytest.mark.parametrize('name', SCHEDULES)
def test_schedule_is_the_references_warmup_poly(name):
    cfg = load(name)
    base_lr, max_iters = SPEC[name]
    assert cfg.train_cfg.type == 'IterBasedTrainLoop'
    assert cfg.train_cfg.max_iters == max_iters
    assert cfg.optim_wrapper.optimizer.lr == base_lr
    lrs = scheduled_lr(cfg)
    expected = reference_lr(base_lr, max_iters)
    rel = np.abs(lrs - expected) / expected
    worst = int(rel.argmax())
    assert rel[worst] <= 1e-6, (
        f'{name}: LR differs from WarmupPolyLR by {rel[worst]:.3g} '
        f'(relative) at t={worst}: {lrs[worst]:.6g} vs {expected[worst]:.6g}')


@pytest.mark.parametrize('name', SCHEDULES)
def test_weight_decay_on_weights_and_biases_not_norms(name):
    """The reference's solver: weight decay 1e-4 on every weight and bias,
    0 on norm layers (checked on conv, linear and the norms the models
    use)."""
    cfg = load(name)
    assert cfg.optim_wrapper.optimizer.type == 'SGD'
    assert cfg.optim_wrapper.optimizer.momentum == 0.9
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.GroupNorm(2, 4), nn.BatchNorm2d(4),
        nn.SyncBatchNorm(4), nn.LayerNorm(4), nn.Linear(4, 2))
    with DefaultScope.overwrite_default_scope('mmpfcn'):
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    decay = {
        id(p): g['weight_decay']
        for g in optim_wrapper.param_groups for p in g['params']
    }
    checked = 0
    for module in model.modules():
        expected = 0.0 if isinstance(module, NORM_TYPES) else WEIGHT_DECAY
        for pname, param in module.named_parameters(recurse=False):
            assert decay[id(param)] == pytest.approx(expected), (
                f'{name}: {type(module).__name__}.{pname}')
            checked += 1
    assert checked == 12


def test_panoptic_fcn_weight_decay():
    """On the real R50 model of the 1x config: every trainable norm
    parameter without decay, every other one with 1e-4."""
    register_all_modules(init_default_scope=False)
    from mmpfcn.registry import MODELS
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/panoptic_fcn',
                 'panoptic-fcn_r50_fpn_1x_coco-panoptic.py'))
    with DefaultScope.overwrite_default_scope('mmpfcn'):
        model = MODELS.build(cfg.model)
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    decay = {
        id(p): g['weight_decay']
        for g in optim_wrapper.param_groups for p in g['params']
    }
    counts = {0.0: 0, WEIGHT_DECAY: 0}
    for mname, module in model.named_modules():
        expected = 0.0 if isinstance(module, NORM_TYPES) else WEIGHT_DECAY
        for pname, param in module.named_parameters(recurse=False):
            if not param.requires_grad:
                continue
            assert decay[id(param)] == pytest.approx(expected), (
                f'{mname}.{pname}')
            counts[expected] += 1
    # the heads' GroupNorms and the trainable convs/biases
    assert counts[0.0] > 0 and counts[WEIGHT_DECAY] > 0
