"""Evaluation: the PQ engine (``functional``) and the runner metrics.

The metrics are imported on first access (``register_all_modules``
imports ``mmpfcn.evaluation.metrics``), so that the PQ engine of
``functional`` loads without torch, mmengine or mmdet, e.g. for
``tools/analysis_tools/pq_eval.py``.
"""

_METRIC_NAMES = ('PanopticMaskAPMetric', 'PanopticQualityMetric',
                 'SemanticIoUMetric')
__all__ = list(_METRIC_NAMES)


def __getattr__(name: str):
    if name in _METRIC_NAMES:
        from . import metrics
        return getattr(metrics, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
