from .image_targets import ImageTargets, TargetSizes
from .kernel_selection import select_stuff_regions, select_thing_peaks
from .stuff_targets import level_stuff_targets, stuff_one_hot
from .target_generator import PanopticFCNTargetGenerator
from .thing_targets import (
    assign_levels,
    draw_gaussian_heatmap,
    gaussian_radius,
    mass_centers,
    thing_centers,
)

__all__ = [
    'ImageTargets', 'PanopticFCNTargetGenerator', 'TargetSizes',
    'assign_levels', 'draw_gaussian_heatmap', 'gaussian_radius',
    'level_stuff_targets', 'mass_centers', 'select_stuff_regions',
    'select_thing_peaks', 'stuff_one_hot', 'thing_centers'
]
