"""Panoptic FCN models; importing this package registers every module."""
from . import detectors, heads, layers, losses, necks, seg_heads, task_modules  # noqa: F401
from .detectors import PanopticFCN
from .heads import (
               FeatureEncoder,
               KernelGenerator,
               KernelHead,
               PanopticFCNHead,
               PositionHead,
               StuffGenerator,
               ThingGenerator,
)
from .layers.kernel_fusion import kernel_fusion
from .necks import SemanticFPN
from .seg_heads import PanopticFCNFusionHead

__all__ = [
    'FeatureEncoder', 'KernelGenerator', 'KernelHead', 'PanopticFCN',
    'PanopticFCNFusionHead', 'PanopticFCNHead', 'PositionHead',
    'SemanticFPN', 'StuffGenerator', 'ThingGenerator', 'kernel_fusion'
]
