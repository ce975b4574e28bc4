"""How far a device's tensors are from the reference device's."""
import math
from typing import Sequence, Union

import torch
from torch import Tensor

TensorOrList = Union[Tensor, Sequence[Tensor]]


def max_relative_difference(actual: TensorOrList,
                            expected: TensorOrList) -> float:
    """Largest ``max|a - e| / max|e|`` over pairs of tensors.

    Relative to the largest magnitude of the reference tensor, so that
    elements near zero do not blow the ratio up; computed in float64 on
    the CPU.

    Args:
        actual (Tensor | Sequence[Tensor]): Any shape, any device.
        expected (Tensor | Sequence[Tensor]): Same structure and shapes.

    Returns:
        float: 0 for equal tensors; ``inf`` for a shape mismatch, a
        different number of tensors, or non-finite values.
    """
    if isinstance(actual, Tensor):
        actual, expected = [actual], [expected]
    if len(actual) != len(expected):
        return math.inf
    worst = 0.0
    for a, e in zip(actual, expected):
        if a.shape != e.shape:
            return math.inf
        a = a.detach().to('cpu', torch.float64)
        e = e.detach().to('cpu', torch.float64)
        if not (torch.isfinite(a).all() and torch.isfinite(e).all()):
            return math.inf
        if e.numel() == 0:
            continue
        diff = (a - e).abs().max().item()
        scale = e.abs().max().item()
        worst = max(worst, diff / scale if scale > 0 else
                    (0.0 if diff == 0 else math.inf))
    return worst


def mismatch_fraction(actual: Tensor, expected: Tensor) -> float:
    """Fraction of elements that differ.

    Args:
        actual (Tensor): Any shape, any device (e.g. a panoptic map
            ``(1, H, W)``).
        expected (Tensor): The reference.

    Returns:
        float: In [0, 1]; 1 for a shape mismatch, 0 for empty tensors.
    """
    if actual.shape != expected.shape:
        return 1.0
    if expected.numel() == 0:
        return 0.0
    return (actual.cpu() != expected.cpu()).double().mean().item()
