from .dice import WeightedDiceLoss, dice_loss
from .focal import SoftFocalLoss, soft_sigmoid_focal_loss

__all__ = [
    'SoftFocalLoss', 'WeightedDiceLoss', 'dice_loss', 'soft_sigmoid_focal_loss'
]
