"""The reference's learning-rate schedule (detectron2's ``WarmupPolyLR``)
as an mmengine parameter scheduler, in closed form."""
import math
from typing import List, Union

from mmengine.optim import BaseOptimWrapper
from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler
from torch.optim import Optimizer

from mmpfcn.registry import PARAM_SCHEDULERS


def warmup_poly_factor(step: int, max_iters: int, power: float = 0.9,
                       warmup_factor: float = 0.001,
                       warmup_iters: int = 1000) -> float:
    """The factor ``w(t) * (1 - t / T) ** power`` that multiplies the base LR
    at step ``t``.

    ``w(t) = warmup_factor * (1 - t / warmup_iters) + t / warmup_iters`` for
    ``t < warmup_iters`` and 1 after (detectron2's linear warm-up).

    Args:
        step (int): The step ``t``, 0 for the first iteration.
        max_iters (int): ``T``, the length of the schedule.
        power (float): The poly exponent. Defaults to 0.9.
        warmup_factor (float): ``w(0)``. Defaults to 0.001.
        warmup_iters (int): Length of the warm-up. Defaults to 1000.

    Returns:
        float: The factor, in [0, 1].
    """
    warmup = 1.0
    if step < warmup_iters:
        alpha = step / warmup_iters
        warmup = warmup_factor * (1 - alpha) + alpha
    return warmup * math.pow(1.0 - step / max_iters, power)


@PARAM_SCHEDULERS.register_module()
class WarmupPolyLR(LRSchedulerMixin, _ParamScheduler):
    """detectron2's ``WarmupPolyLR`` (Panoptic FCN's ``build_solver.py``):
    ``lr(t) = base_lr * w(t) * (1 - t / T) ** power`` with ``T = end - begin``
    and ``t`` the step counted from ``begin`` (see
    :func:`warmup_poly_factor` for ``w``).

    mmengine's ``ParamSchedulerHook`` steps iteration schedulers after each
    iteration, so iteration ``t`` of the training runs at ``lr(t)``, as in
    detectron2. The value is computed from the base LR each step (no
    chaining), so it does not drift over long schedules and resumes
    exactly; mmengine's ``LinearLR`` + ``PolyLR`` with the same ``begin`` /
    ``end`` reach their last value one step earlier than this formula.

    Args:
        optimizer (Optimizer or BaseOptimWrapper): The wrapped optimizer.
        power (float): The poly exponent. Defaults to 0.9.
        warmup_factor (float): The warm-up's starting factor ``w(0)``.
            Defaults to 0.001.
        warmup_iters (int): Length of the linear warm-up, in steps; may
            exceed the schedule (the warm-up is then cut short, as in
            detectron2). Defaults to 1000.
        begin (int): First step of the schedule. Defaults to 0.
        end (int): Step at which the schedule stops (``T = end - begin``);
            must be finite.
        last_step (int): The index of the last step, for resuming without
            a state dict. Defaults to -1.
        by_epoch (bool): Must be False: the warm-up and decay count
            iterations. Defaults to False.
        verbose (bool): Log each update. Defaults to False.
    """

    def __init__(self,
                 optimizer: Union[Optimizer, BaseOptimWrapper],
                 power: float = 0.9,
                 warmup_factor: float = 0.001,
                 warmup_iters: int = 1000,
                 begin: int = 0,
                 end: int = INF,
                 last_step: int = -1,
                 by_epoch: bool = False,
                 verbose: bool = False) -> None:
        if by_epoch:
            raise ValueError(
                'WarmupPolyLR counts iterations (detectron2\'s WarmupPolyLR); '
                'set by_epoch=False in param_scheduler')
        if end == INF:
            raise ValueError(
                'WarmupPolyLR needs a finite end (the schedule length, '
                'usually train_cfg.max_iters) in param_scheduler')
        if warmup_iters < 0:
            raise ValueError(
                f'WarmupPolyLR: warmup_iters={warmup_iters} must be >= 0')
        if not 0 < warmup_factor <= 1:
            raise ValueError(
                f'WarmupPolyLR: warmup_factor={warmup_factor} must be in '
                '(0, 1]')
        self.power = power
        self.warmup_factor = warmup_factor
        self.warmup_iters = warmup_iters
        self.max_iters = end - begin
        super().__init__(
            optimizer,
            begin=begin,
            end=end,
            last_step=last_step,
            by_epoch=by_epoch,
            verbose=verbose)

    def _get_value(self) -> List[float]:
        """The LR of every parameter group at ``self.last_step``."""
        factor = warmup_poly_factor(self.last_step, self.max_iters,
                                    self.power, self.warmup_factor,
                                    self.warmup_iters)
        return [base * factor for base in self.base_values]
