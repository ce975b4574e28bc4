"""Stop training at the first non-finite loss, naming the iteration and
the term, before its gradients reach the weights."""
from typing import Dict, Sequence, Union

import torch
from mmengine.logging import MessageHub
from torch import Tensor

LossValue = Union[Tensor, Sequence[Tensor]]


def _total(value: LossValue) -> Tensor:
    """Sum of a loss term (a tensor or a list of tensors), as a 0-d float
    tensor; non-finite iff one of its elements is."""
    if isinstance(value, Tensor):
        return value.detach().float().sum()
    return torch.stack([v.detach().float().sum() for v in value]).sum()


def check_finite_losses(losses: Dict[str, LossValue]) -> None:
    """Raise if a loss term is NaN or infinite.

    Called on the losses of every training batch, before the backward
    pass: a non-finite term stops the run in its iteration, with the
    weights, the optimiser state and the checkpoints of earlier iterations
    untouched. The check costs one device synchronisation per batch (the
    logger reads every term anyway).

    Args:
        losses (dict[str, Tensor | list[Tensor]]): The detector's losses;
            keys containing ``'loss'`` are checked.

    Raises:
        FloatingPointError: Naming the iteration (1-based, as in the
            training log, when run by an mmengine runner) and every
            non-finite term with its value.
    """
    terms = {k: _total(v) for k, v in losses.items() if 'loss' in k}
    if not terms or torch.stack(list(terms.values())).isfinite().all():
        return
    bad = [f'{k}={v.item()}' for k, v in terms.items() if not v.isfinite()]
    good = [f'{k}={v.item():.4g}' for k, v in terms.items() if v.isfinite()]
    hub = MessageHub.get_current_instance()
    iteration = hub.get_info('iter')
    where = 'in a training step' if iteration is None else \
        f'at iteration {iteration + 1}'
    raise FloatingPointError(
        f'non-finite loss {where}: {", ".join(bad)}'
        + (f' (finite: {", ".join(good)})' if good else '') +
        '; training stopped before the backward pass, so the weights and '
        'the checkpoints written so far are unaffected. Lower the learning '
        'rate or check the inputs of this iteration.')
