"""Data transforms that mmdet lacks: the checked panoptic loader, the
stuff map with a "things" channel, the instance-aware random crop and
detectron2's resize."""
from .instance_crop import RandomCropWithInstance
from .loading import LoadPanopticFCNAnnotations
from .resize import PanopticResize
from .stuff_map import GenerateStuffMap

__all__ = [
    'GenerateStuffMap', 'LoadPanopticFCNAnnotations', 'PanopticResize',
    'RandomCropWithInstance'
]
