"""Sigmoid focal loss with soft (Gaussian / bilinear) targets, the position
loss of Panoptic FCN for both the thing centres and the stuff regions."""
from typing import Optional, Union

import torch.nn.functional as F
from torch import Tensor, nn

from mmpfcn.registry import MODELS


def soft_sigmoid_focal_loss(pred: Tensor,
                            target: Tensor,
                            alpha: float = 0.25,
                            gamma: float = 2.0) -> Tensor:
    """Element-wise sigmoid focal loss for targets in [0, 1].

    ``CE = BCEWithLogits(x, t)``, ``p_t = p t + (1 - p)(1 - t)``,
    ``alpha_t = alpha t + (1 - alpha)(1 - t)``,
    ``loss = alpha_t * CE * (1 - p_t) ** gamma``. Unlike the hard-label
    form, soft targets (heatmap values between 0 and 1) are used as they are.

    Args:
        pred (Tensor): Logits of any shape.
        target (Tensor): Soft targets in [0, 1], same shape as ``pred``.
        alpha (float): Weight of the positive term. Defaults to 0.25.
        gamma (float): Focusing exponent. Defaults to 2.0.

    Returns:
        Tensor: Loss of every element, same shape as ``pred``.
    """
    if pred.shape != target.shape:
        raise ValueError('soft_sigmoid_focal_loss: pred and target must have '
                         f'the same shape, got {tuple(pred.shape)} and '
                         f'{tuple(target.shape)}')
    target = target.to(pred.dtype)
    prob = pred.sigmoid()
    ce = F.binary_cross_entropy_with_logits(pred, target, reduction='none')
    p_t = prob * target + (1 - prob) * (1 - target)
    alpha_t = alpha * target + (1 - alpha) * (1 - target)
    return alpha_t * ce * (1 - p_t).pow(gamma)


@MODELS.register_module()
class SoftFocalLoss(nn.Module):
    """Summed soft-target sigmoid focal loss divided by a normaliser.

    The thing position loss passes the number of (instance, level) targets
    as ``avg_factor``; the stuff position loss passes
    ``images * H_l * W_l`` per level, which gives the reference's "mean over
    the map, summed over (image, class), divided by the images".

    Args:
        alpha (float): Weight of the positive term. Defaults to 0.25.
        gamma (float): Focusing exponent. Defaults to 2.0.
        loss_weight (float): Factor applied to the loss. Defaults to 1.0.
    """

    def __init__(self,
                 alpha: float = 0.25,
                 gamma: float = 2.0,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        self.alpha = alpha
        self.gamma = gamma
        self.loss_weight = loss_weight

    def forward(self,
                pred: Tensor,
                target: Tensor,
                avg_factor: Optional[Union[float, Tensor]] = None) -> Tensor:
        """Compute ``loss_weight * sum(focal) / avg_factor``.

        Args:
            pred (Tensor): Logits of any shape.
            target (Tensor): Soft targets, same shape as ``pred``.
            avg_factor (float | Tensor, optional): Normaliser; None means
                a plain sum. The caller clamps it (e.g. ``max(n, 1)``).

        Returns:
            Tensor: Scalar loss.
        """
        loss = soft_sigmoid_focal_loss(pred, target, self.alpha,
                                       self.gamma).sum()
        if avg_factor is not None:
            loss = loss / avg_factor
        return self.loss_weight * loss
