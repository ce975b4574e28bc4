"""Evaluation: the PQ engine (``functional``) and the runner metric.

``PanopticFCNMetric`` is imported on first access (``register_all_modules``
imports ``mmpfcn.evaluation.metrics``), so that the PQ engine of
``functional`` loads without torch, mmengine or mmdet, e.g. for
``tools/analysis_tools/pq_eval.py``.
"""

__all__ = ['PanopticFCNMetric']


def __getattr__(name: str):
    if name == 'PanopticFCNMetric':
        from .metrics import PanopticFCNMetric
        return PanopticFCNMetric
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
