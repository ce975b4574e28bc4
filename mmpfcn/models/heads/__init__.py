from .feature_encoder import FeatureEncoder
from .kernel_generator import KernelGenerator, KernelHead, PositionHead
from .panoptic_fcn_head import PanopticFCNHead
from .stuff_generator import StuffGenerator
from .thing_generator import ThingGenerator
from .upper_bound_head import PanopticFCNUpperBoundHead

__all__ = [
    'FeatureEncoder', 'KernelGenerator', 'KernelHead', 'PanopticFCNHead',
    'PanopticFCNUpperBoundHead', 'PositionHead', 'StuffGenerator',
    'ThingGenerator'
]
