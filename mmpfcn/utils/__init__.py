from .checkpoint import (
                         load_trusted_checkpoint,
                         register_trusted_checkpoint_loaders,
)
from .config_check import ConfigKeyError, check_config
from .distributed import check_amp_device, setup_distributed
from .malloc import keep_freed_memory
from .parent_death import exit_with_parent
from .setup_env import register_all_modules
from .tta_config import enable_tta

__all__ = [
    'ConfigKeyError', 'check_amp_device', 'check_config', 'enable_tta',
    'exit_with_parent', 'keep_freed_memory', 'load_trusted_checkpoint',
    'register_trusted_checkpoint_loaders', 'register_all_modules',
    'setup_distributed'
]
