from .dice import WeightedDiceLoss, dice_loss
from .finite import check_finite_losses
from .focal import SoftFocalLoss, soft_sigmoid_focal_loss
from .normalizer import mean_over_ranks

__all__ = [
    'SoftFocalLoss', 'WeightedDiceLoss', 'check_finite_losses', 'dice_loss',
    'mean_over_ranks', 'soft_sigmoid_focal_loss'
]
