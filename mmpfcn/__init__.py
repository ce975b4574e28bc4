"""mmpfcn: Panoptic FCN (Li et al., CVPR 2021) on MMDetection 3."""
from .utils.checkpoint import register_trusted_checkpoint_loaders
from .version import __version__, version_info

register_trusted_checkpoint_loaders()

__all__ = ['__version__', 'version_info']
