"""Dice loss of predicted mask logits against soft masks, weighted per mask
(Panoptic FCN's weighted dice over the k positive kernels of a thing)."""
from typing import Optional, Union

from torch import Tensor, nn

from mmpfcn.registry import MODELS


def dice_loss(pred_logits: Tensor, target: Tensor,
              eps: float = 1e-8) -> Tensor:
    """Per-mask dice loss ``1 - 2 sum(p t) / max(sum p^2 + sum t^2, eps)``.

    Args:
        pred_logits (Tensor): Mask logits of shape (N, P) (P = pixels of the
            whole padded stride-4 canvas); ``p = sigmoid(logit)``.
        target (Tensor): Soft targets in [0, 1] of shape (N, P).
        eps (float): Lower bound of the denominator, so an all-zero
            prediction against an all-zero target costs 1, not NaN.
            Defaults to 1e-8.

    Returns:
        Tensor: Loss of every mask, shape (N,).
    """
    if pred_logits.dim() != 2 or pred_logits.shape != target.shape:
        raise ValueError('dice_loss expects pred_logits and target of the '
                         'same (N, P) shape, got '
                         f'{tuple(pred_logits.shape)} and '
                         f'{tuple(target.shape)}')
    prob = pred_logits.sigmoid()
    target = target.to(prob.dtype)
    denominator = (prob.pow(2).sum(dim=1) + target.pow(2).sum(dim=1))
    numerator = 2 * (prob * target).sum(dim=1)
    return 1 - numerator / denominator.clamp(min=eps)


@MODELS.register_module()
class WeightedDiceLoss(nn.Module):
    """``loss_weight * sum(weight * dice) / avg_factor``.

    Things: each of the k kernels of an instance predicts a mask against the
    same target, weighted by its normalised guidance score (weights of one
    instance sum to 1), and ``avg_factor`` is the number of (instance, level)
    targets. Stuff: weight 1 per mask, ``avg_factor`` = number of masks.

    Args:
        loss_weight (float): Factor applied to the loss (lambda_seg, 3 on
            COCO). Defaults to 1.0.
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self,
                pred_logits: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[Union[float, Tensor]] = None) -> Tensor:
        """Compute the weighted, summed and normalised dice loss.

        Args:
            pred_logits (Tensor): Mask logits of shape (N, P).
            target (Tensor): Soft targets of shape (N, P).
            weight (Tensor, optional): Weight of every mask, shape (N,);
                None means 1. Gradients flow through it (the guidance
                weights of the things are not detached).
            avg_factor (float | Tensor, optional): Normaliser; None means a
                plain sum. The caller clamps it (e.g. ``max(n, 1)``).

        Returns:
            Tensor: Scalar loss.
        """
        loss = dice_loss(pred_logits, target)  # (N,)
        if weight is not None:
            if weight.shape != loss.shape:
                raise ValueError('WeightedDiceLoss: weight must have shape '
                                 f'{tuple(loss.shape)} (one per mask), got '
                                 f'{tuple(weight.shape)}')
            loss = loss * weight
        loss = loss.sum()
        if avg_factor is not None:
            loss = loss / avg_factor
        return self.loss_weight * loss
