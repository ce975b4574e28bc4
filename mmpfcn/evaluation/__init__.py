"""Evaluation: the PQ engine (``functional``) and the runner metric."""
from .metrics import PanopticFCNMetric

__all__ = ['PanopticFCNMetric']
