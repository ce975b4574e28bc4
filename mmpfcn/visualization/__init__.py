from .local_visualizer import PanopticFCNVisualizer, gt_panoptic_map

__all__ = ['PanopticFCNVisualizer', 'gt_panoptic_map']
