"""Semantic FPN: merges P2..P5 into the stride-4 high-resolution feature F_h
that the feature encoder of Panoptic FCN turns into mask features."""
from typing import Sequence

import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmpfcn.registry import MODELS

MODES = ('semantic_fpn', 'p2', 'sum')


def _upsample_to(x: Tensor, size: Sequence[int]) -> Tensor:
    """Bilinear resize (``align_corners=False``) unless already ``size``."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode='bilinear', align_corners=False)


@MODELS.register_module()
class SemanticFPN(BaseModule):
    """Stride-4 high-resolution feature from the FPN levels P2..P5.

    ``mode='semantic_fpn'`` (the paper's default): P2 passes one block of
    [3x3 conv without bias, GN, ReLU] and ``P_{2+i}`` (i >= 1) passes i
    blocks of [3x3 conv without bias, GN, ReLU, bilinear x2 upsampling],
    i.e. 1, 1, 2, 3 blocks that bring every level to stride 4; the results
    are summed; no output conv. The paper's ablation alternatives have no
    parameters: ``'p2'`` returns P2 as it is, ``'sum'`` resizes P3..P5
    bilinearly to P2's size and sums all four.

    Parameter names ``p{2..5}.{2*j}.conv`` / ``.gn`` correspond to the
    reference's ``semantic_fpn.p{2..5}.{2*j}`` / ``.norm``. The convs start
    as the reference's (detectron2's ``c2_msra_fill``, Kaiming normal with
    ``mode='fan_out'`` for ReLU), which is ConvModule's own init; GN 1 / 0.

    Args:
        in_channels (int): Channels of every input level. Defaults to 256.
        feat_channels (int): Channels of the blocks and of the output.
            Must equal ``in_channels`` in the modes without convs.
            Defaults to 256.
        num_levels (int): Levels used, from P2 on. Defaults to 4 (P2..P5).
        norm_cfg (dict): Norm layer of the blocks. Defaults to GN with 32
            groups.
        mode (str): ``'semantic_fpn'``, ``'p2'`` or ``'sum'``.
            Defaults to ``'semantic_fpn'``.
        init_cfg (dict, optional): mmengine init config. Defaults to None
            (the reference's init above).
    """

    def __init__(self,
                 in_channels: int = 256,
                 feat_channels: int = 256,
                 num_levels: int = 4,
                 norm_cfg: dict = dict(
                     type='GN', num_groups=32, requires_grad=True),
                 mode: str = 'semantic_fpn',
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if mode not in MODES:
            raise ValueError(f'SemanticFPN: mode must be one of {MODES}, '
                             f'got {mode!r}')
        if mode != 'semantic_fpn' and feat_channels != in_channels:
            raise ValueError(f'SemanticFPN: mode {mode!r} has no convs, so '
                             f'feat_channels ({feat_channels}) must equal '
                             f'in_channels ({in_channels})')
        self.mode = mode
        self.num_levels = num_levels
        self.out_channels = feat_channels
        if mode != 'semantic_fpn':
            return
        for level in range(num_levels):
            layers = []
            # one x2 step per block; P2 (already stride 4) gets one block
            for block in range(max(level, 1)):
                layers.append(
                    ConvModule(
                        in_channels if block == 0 else feat_channels,
                        feat_channels,
                        3,
                        padding=1,
                        norm_cfg=norm_cfg))
                if level > 0:
                    layers.append(
                        nn.Upsample(
                            scale_factor=2,
                            mode='bilinear',
                            align_corners=False))
            self.add_module(f'p{level + 2}', nn.Sequential(*layers))

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """Merge P2..P5 into one stride-4 map.

        Args:
            feats (Sequence[Tensor]): P2..P5 (at least ``num_levels`` maps;
                extra coarser levels are ignored), level i of shape
                (B, in_channels, H/2^(i+2), W/2^(i+2)) where (H, W) is the
                padded input size.

        Returns:
            Tensor: F_h of shape (B, feat_channels, H/4, W/4).
        """
        if len(feats) < self.num_levels:
            raise ValueError(f'SemanticFPN expects at least '
                             f'{self.num_levels} levels (P2..), got '
                             f'{len(feats)}')
        feats = feats[:self.num_levels]
        size = feats[0].shape[-2:]
        if self.mode == 'p2':
            return feats[0]
        if self.mode == 'sum':
            return sum(_upsample_to(x, size) for x in feats)
        out = None
        for level, x in enumerate(feats):
            # x2 steps give exactly P2's size because the input is padded
            # to a multiple of 32; the final resize only guards odd sizes
            branch = _upsample_to(getattr(self, f'p{level + 2}')(x), size)
            if out is None:
                out = branch
            elif out.requires_grad:
                out = out + branch  # autograd keeps the ReLU output
            else:
                out += branch  # inference: no new stride-4 map per level
        return out
