from .coord import cat_coords, coord_features
from .kernel_fusion import kernel_fusion
from .panoptic_merge import argmax_merge, heuristic_merge

__all__ = [
    'argmax_merge', 'cat_coords', 'coord_features', 'heuristic_merge',
    'kernel_fusion'
]
