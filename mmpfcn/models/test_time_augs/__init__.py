"""Test-time augmentation of Panoptic FCN."""
from .panoptic_fcn_tta import PanopticFCNTTAModel

__all__ = ['PanopticFCNTTAModel']
