from .checkpoint import (
    CheckpointLoadError,
    UntrustedCheckpointError,
    load_checkpoint_file,
    register_checkpoint_loaders,
    safe_pickle_load,
    safe_torch_load,
    trust_checkpoints,
)
from .config_check import ConfigKeyError, check_config
from .distributed import check_amp_device, setup_distributed
from .malloc import keep_freed_memory
from .parent_death import exit_with_parent
from .runner_outputs import use_rle_instance_masks
from .setup_env import register_all_modules
from .tta_config import enable_tta

__all__ = [
    'CheckpointLoadError', 'ConfigKeyError', 'UntrustedCheckpointError',
    'check_amp_device', 'check_config', 'enable_tta', 'exit_with_parent',
    'keep_freed_memory', 'load_checkpoint_file', 'register_all_modules',
    'register_checkpoint_loaders', 'safe_pickle_load', 'safe_torch_load',
    'setup_distributed', 'trust_checkpoints', 'use_rle_instance_masks'
]
