from .optimize_hook import OptimizeForInferenceHook
from .visualization_hook import PanopticVisualizationHook

__all__ = ['OptimizeForInferenceHook', 'PanopticVisualizationHook']
