from .optimize_hook import OptimizeForInferenceHook

__all__ = ['OptimizeForInferenceHook']
