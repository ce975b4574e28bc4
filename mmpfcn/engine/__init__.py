from .checkpoint_fit_hook import CheckpointFitHook
from .checkpoint_hook import AtomicCheckpointHook
from .optimize_hook import OptimizeForInferenceHook
from .resume import NoCheckpointError, find_resumable_checkpoint
from .visualization_hook import PanopticVisualizationHook
from .warmup_poly_lr import WarmupPolyLR, warmup_poly_factor

__all__ = [
    'AtomicCheckpointHook', 'CheckpointFitHook', 'NoCheckpointError',
    'OptimizeForInferenceHook', 'PanopticVisualizationHook', 'WarmupPolyLR',
    'find_resumable_checkpoint', 'warmup_poly_factor'
]
