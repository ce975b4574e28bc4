"""Panoptic FCN models; importing this package registers every module."""
from . import (  # noqa: F401
               detectors,
               heads,
               layers,
               losses,
               necks,
               seg_heads,
               task_modules,
               test_time_augs,
)
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
from .test_time_augs import PanopticFCNTTAModel

__all__ = [
    'FeatureEncoder', 'KernelGenerator', 'KernelHead', 'PanopticFCN',
    'PanopticFCNFusionHead', 'PanopticFCNHead', 'PanopticFCNTTAModel',
    'PositionHead', 'SemanticFPN', 'StuffGenerator', 'ThingGenerator',
    'kernel_fusion'
]
