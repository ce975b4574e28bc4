"""Runner metrics of mmpfcn."""
from .panoptic_fcn_metric import PanopticFCNMetric

__all__ = ['PanopticFCNMetric']
