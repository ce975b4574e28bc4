from .checkpoint import (
                         load_trusted_checkpoint,
                         register_trusted_checkpoint_loaders,
)
from .setup_env import register_all_modules

__all__ = [
    'load_trusted_checkpoint', 'register_trusted_checkpoint_loaders',
    'register_all_modules'
]
