from .conv_stack import conv_stack, init_conv_stack
from .coord import cat_coords, coord_features
from .deform_conv import (
                          ModulatedDeformConv2dPackPT,
                          ModulatedDeformConv2dPT,
                          modulated_deform_conv2d,
)
from .kernel_embedding import KernelEmbedding
from .kernel_fusion import class_mean_kernels, kernel_fusion
from .kernel_gathering import stuff_kernel_pooling, topk_positive_kernels
from .panoptic_merge import argmax_merge, heuristic_merge

__all__ = [
    'KernelEmbedding', 'ModulatedDeformConv2dPT',
    'ModulatedDeformConv2dPackPT', 'argmax_merge', 'cat_coords',
    'class_mean_kernels',
    'conv_stack', 'coord_features', 'heuristic_merge', 'init_conv_stack',
    'kernel_fusion', 'modulated_deform_conv2d', 'stuff_kernel_pooling',
    'topk_positive_kernels'
]
