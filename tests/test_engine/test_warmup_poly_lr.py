"""WarmupPolyLR: detectron2's closed form at each step, from ``begin``,
resumable from its state dict, with clear errors for unusable settings."""
import math

import pytest
import torch
from mmengine.hooks import Hook

from mmpfcn.engine import WarmupPolyLR, warmup_poly_factor
from mmpfcn.testing.toy_training import toy_runner


def optimizer(lr: float = 0.01) -> torch.optim.SGD:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def run(scheduler: WarmupPolyLR, opt: torch.optim.SGD, steps: int) -> list:
    """The LR of each of the next ``steps`` iterations (read before the
    scheduler's step, as ParamSchedulerHook applies it)."""
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]['lr'])
        opt.step()
        scheduler.step()
    return lrs


def test_factor_is_detectron2s_formula():
    assert warmup_poly_factor(0, 100, warmup_iters=10) == 0.001
    # halfway through the warm-up: w = 0.001 * 0.5 + 0.5
    assert warmup_poly_factor(5, 100, warmup_iters=10) == pytest.approx(
        0.5005 * 0.95**0.9, rel=1e-15)
    assert warmup_poly_factor(10, 100, warmup_iters=10) == pytest.approx(
        0.9**0.9, rel=1e-15)
    assert warmup_poly_factor(99, 100, warmup_iters=10) == pytest.approx(
        0.01**0.9, rel=1e-15)
    assert warmup_poly_factor(3, 10, warmup_iters=0) == pytest.approx(
        0.7**0.9, rel=1e-15)


def test_every_step_and_the_last_is_not_zero():
    opt = optimizer(0.02)
    lrs = run(WarmupPolyLR(opt, warmup_iters=4, begin=0, end=12), opt, 12)
    for t, lr in enumerate(lrs):
        w = 0.001 * (1 - t / 4) + t / 4 if t < 4 else 1.0
        assert lr == pytest.approx(0.02 * w * (1 - t / 12)**0.9, rel=1e-15)
    assert lrs[-1] > 0


def test_begin_shifts_the_schedule():
    opt = optimizer()
    lrs = run(WarmupPolyLR(opt, warmup_iters=2, begin=3, end=10), opt, 10)
    # before begin the optimizer's LR is left as it is
    assert lrs[:3] == [0.01] * 3
    assert lrs[3] == pytest.approx(0.01 * 0.001)
    assert lrs[9] == pytest.approx(0.01 * (1 - 6 / 7)**0.9)


def test_resume_from_state_dict():
    opt = optimizer()
    full = run(WarmupPolyLR(opt, warmup_iters=3, end=20), opt, 20)
    opt = optimizer()
    first = WarmupPolyLR(opt, warmup_iters=3, end=20)
    run(first, opt, 7)
    state = first.state_dict()
    # a fresh optimizer at the base LR, as after loading a checkpoint
    # whose optimizer state records initial_lr
    opt2 = optimizer()
    opt2.param_groups[0]['initial_lr'] = 0.01
    second = WarmupPolyLR(opt2, warmup_iters=3, end=20)
    second.load_state_dict(state)
    second.optimizer = opt2
    opt2.param_groups[0]['lr'] = opt.param_groups[0]['lr']
    assert run(second, opt2, 13) == pytest.approx(full[7:], rel=1e-15)


@pytest.mark.parametrize('kwargs, match', [
    (dict(end=10, by_epoch=True), 'by_epoch=False'),
    (dict(), 'finite end'),
    (dict(end=10, warmup_iters=-1), 'warmup_iters=-1'),
    (dict(end=10, warmup_factor=0.0), 'warmup_factor=0.0'),
])
def test_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        WarmupPolyLR(optimizer(), **kwargs)


def test_registered_in_mmpfcn_scope():
    from mmengine.registry import DefaultScope

    from mmpfcn.registry import PARAM_SCHEDULERS
    with DefaultScope.overwrite_default_scope('mmpfcn'):
        scheduler = PARAM_SCHEDULERS.build(
            dict(type='WarmupPolyLR', optimizer=optimizer(), end=5000))
    assert isinstance(scheduler, WarmupPolyLR)
    assert scheduler.max_iters == 5000
    assert math.isclose(scheduler.get_last_value()[0], 0.01 * 0.001)


class RecordLR(Hook):
    """Records the LR each training iteration runs at."""

    def __init__(self) -> None:
        self.lrs = []

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self.lrs.append(runner.optim_wrapper.get_lr()['lr'][0])


def runner(work_dir: str, iters: int, resume: bool = False):
    """The toy training of ``iters`` iterations under a 3-iteration warm-up
    of a 10-iteration WarmupPolyLR, checkpointing every 4."""
    record = RecordLR()
    return toy_runner(
        work_dir, iters, hook='mmengine', max_keep_ckpts=-1, interval=4,
        resume=resume,
        param_scheduler=[
            dict(type='WarmupPolyLR', warmup_iters=3, begin=0, end=10,
                 by_epoch=False)
        ],
        custom_hooks=[record],
        default_scope='mmpfcn'), record


def test_runner_applies_it_and_resumes(tmp_path):
    expected = [0.1 * warmup_poly_factor(t, 10, warmup_iters=3)
                for t in range(10)]
    full, record = runner(str(tmp_path / 'full'), 10)
    full.train()
    assert record.lrs == pytest.approx(expected, rel=1e-12)
    first, _ = runner(str(tmp_path / 'resumed'), 4)
    first.train()
    second, record = runner(str(tmp_path / 'resumed'), 10, resume=True)
    second.train()
    assert record.lrs == pytest.approx(expected[4:], rel=1e-12)
