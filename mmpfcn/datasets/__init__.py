"""Datasets: checked COCO panoptic, its transforms and the synthetic data."""
from .coco_panoptic import PanopticFCNCocoDataset
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
    'GenerateStuffMap', 'LoadPanopticFCNAnnotations', 'PanopticFCNCocoDataset',
    'RandomCropWithInstance', 'SYNTHETIC_CATEGORIES',
    'make_synthetic_panoptic', 'synthetic_metainfo'
]
