"""Datasets: checked COCO panoptic, Cityscapes, Mapillary Vistas, their
transforms and the synthetic data."""
from .cityscapes_panoptic import CityscapesPanopticDataset
from .coco_panoptic import PanopticFCNCocoDataset
from .mapillary_panoptic import MapillaryVistasPanopticDataset
from .synthetic import (
    SYNTHETIC_CATEGORIES,
    make_synthetic_panoptic,
    synthetic_metainfo,
)
from .transforms import (
    GenerateStuffMap,
    LoadPanopticFCNAnnotations,
    RandomCropWithInstance,
)

__all__ = [
    'CityscapesPanopticDataset', 'GenerateStuffMap',
    'LoadPanopticFCNAnnotations', 'MapillaryVistasPanopticDataset',
    'PanopticFCNCocoDataset',
    'RandomCropWithInstance', 'SYNTHETIC_CATEGORIES',
    'make_synthetic_panoptic', 'synthetic_metainfo'
]
