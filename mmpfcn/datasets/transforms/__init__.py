"""Data transforms that mmdet lacks: the checked panoptic loader and the
stuff map with a "things" channel."""
from .loading import LoadPanopticFCNAnnotations
from .stuff_map import GenerateStuffMap

__all__ = ['GenerateStuffMap', 'LoadPanopticFCNAnnotations']
