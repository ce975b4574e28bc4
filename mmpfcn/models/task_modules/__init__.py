from .kernel_selection import select_stuff_regions, select_thing_peaks
from .targets import (
    ImageTargets,
    PanopticFCNTargetGenerator,
    assign_levels,
    draw_gaussian_heatmap,
    gaussian_radius,
    mass_centers,
)

__all__ = [
    'ImageTargets', 'PanopticFCNTargetGenerator', 'assign_levels',
    'draw_gaussian_heatmap', 'gaussian_radius', 'mass_centers',
    'select_stuff_regions', 'select_thing_peaks'
]
