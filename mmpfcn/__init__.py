"""mmpfcn: Panoptic FCN (Li et al., CVPR 2021) on MMDetection 3."""
import importlib
import sys

from ._import_hooks import when_imported
from .dependencies import check_dependencies
from .version import __version__, version_info

# mmcv / mmengine / mmdet outside the supported ranges: a clear ImportError
check_dependencies()

_CHECKPOINT_MODULE = 'mmpfcn.utils.checkpoint'


def _register_checkpoint_loaders() -> None:
    # importing the module registers the loaders; if it is being imported
    # right now (it imports mmengine's checkpoint module), it registers
    # them itself when it finishes
    if _CHECKPOINT_MODULE not in sys.modules:
        importlib.import_module(_CHECKPOINT_MODULE)


# as soon as mmengine's checkpoint module exists (importing mmpfcn itself
# loads neither torch nor mmengine)
when_imported('mmengine.runner.checkpoint',
              _register_checkpoint_loaders)

__all__ = ['__version__', 'version_info']
