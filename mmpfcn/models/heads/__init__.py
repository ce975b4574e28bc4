from .feature_encoder import FeatureEncoder
from .kernel_generator import KernelGenerator, KernelHead, PositionHead
from .panoptic_fcn_head import PanopticFCNHead

__all__ = [
    'FeatureEncoder', 'KernelGenerator', 'KernelHead', 'PanopticFCNHead',
    'PositionHead'
]
