"""Data transforms that mmdet lacks: the checked panoptic loader, the
stuff map with a "things" channel and the instance-aware random crop."""
from .instance_crop import RandomCropWithInstance
from .loading import LoadPanopticFCNAnnotations
from .stuff_map import GenerateStuffMap

__all__ = [
    'GenerateStuffMap', 'LoadPanopticFCNAnnotations', 'RandomCropWithInstance'
]
