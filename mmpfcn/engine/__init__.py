from .checkpoint_hook import AtomicCheckpointHook
from .optimize_hook import OptimizeForInferenceHook
from .resume import NoCheckpointError, find_resumable_checkpoint
from .visualization_hook import PanopticVisualizationHook

__all__ = [
    'AtomicCheckpointHook', 'NoCheckpointError', 'OptimizeForInferenceHook',
    'PanopticVisualizationHook', 'find_resumable_checkpoint'
]
