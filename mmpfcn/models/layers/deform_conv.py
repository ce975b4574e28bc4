"""Modulated deformable convolution (DCNv2) in plain PyTorch: bilinear
sampling of every kernel tap with ``grid_sample``, then one matmul.

It takes mmcv's ``ModulatedDeformConv2d`` offset and mask layout and has
``ModulatedDeformConv2dPack``'s parameter names (``weight``, ``bias``,
``conv_offset.weight``, ``conv_offset.bias``), so a checkpoint of either
loads unchanged. Unlike mmcv's compiled op it runs on any device PyTorch
runs on and exports to standard ONNX operators (GridSample needs opset
>= 16).
"""
import math
from typing import Optional, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.registry import MODELS
from torch import Tensor, nn
from torch.nn.modules.utils import _pair

IntPair = Union[int, Tuple[int, int]]


def _tap_positions(out_size: int, kernel: int, stride: int, padding: int,
                   dilation: int, device, dtype) -> Tensor:
    """Input coordinate of tap ``i`` at output position ``o`` along one
    axis, ``o * stride - padding + i * dilation``, shape (kernel, out)."""
    outs = torch.arange(out_size, device=device, dtype=dtype)
    taps = torch.arange(kernel, device=device, dtype=dtype)
    return taps[:, None] * dilation + outs[None, :] * stride - padding


def modulated_deform_conv2d(x: Tensor,
                            offset: Tensor,
                            mask: Tensor,
                            weight: Tensor,
                            bias: Optional[Tensor] = None,
                            stride: IntPair = 1,
                            padding: IntPair = 0,
                            dilation: IntPair = 1,
                            deform_groups: int = 1) -> Tensor:
    """DCNv2 with mmcv's layout (groups = 1).

    Tap ``k = i * kw + j`` of deform group ``g`` samples the input at
    ``(o_y * s_y - p_y + i * d_y + dy, o_x * s_x - p_x + j * d_x + dx)``
    with ``dy = offset[:, 2 * (g * K + k)]``,
    ``dx = offset[:, 2 * (g * K + k) + 1]`` (K = kh * kw), bilinearly, zero
    outside the image (as mmcv: a corner outside contributes 0), and
    multiplies it by ``mask[:, g * K + k]``. Input channels are split
    evenly over the deform groups.

    Args:
        x (Tensor): Input of shape (B, C, H, W).
        offset (Tensor): (B, 2 * G * K, H_o, W_o), (dy, dx) per tap.
        mask (Tensor): (B, G * K, H_o, W_o) modulation.
        weight (Tensor): (C_out, C, kh, kw).
        bias (Tensor, optional): (C_out, ).
        stride, padding, dilation (int | tuple[int, int]): As ``conv2d``.
        deform_groups (int): G. Defaults to 1.

    Returns:
        Tensor: Output of shape (B, C_out, H_o, W_o).
    """
    batch, channels, height, width = x.shape
    out_channels, in_per_group, kh, kw = weight.shape
    if in_per_group != channels:
        raise ValueError(f'modulated_deform_conv2d: weight has '
                         f'{in_per_group} input channels, the input '
                         f'{channels} (groups must be 1)')
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(
        dilation)
    out_h = (height + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    out_w = (width + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    taps, groups = kh * kw, deform_groups
    expected = ((batch, 2 * groups * taps, out_h, out_w),
                (batch, groups * taps, out_h, out_w))
    for name, tensor, shape in zip(('offset', 'mask'), (offset, mask),
                                   expected):
        if tuple(tensor.shape) != shape:
            raise ValueError(
                f'modulated_deform_conv2d: {name} must have shape {shape} '
                f'(mmcv\'s layout: (dy, dx) per tap of each of '
                f'{groups} deform group(s)), got {tuple(tensor.shape)}')
    offset = offset.to(x.dtype).view(batch, groups, taps, 2, out_h, out_w)
    rows = _tap_positions(out_h, kh, sh, ph, dh, x.device, x.dtype)
    cols = _tap_positions(out_w, kw, sw, pw, dw, x.device, x.dtype)
    grid_shape = (kh, kw, out_h, out_w)  # flattened to (K, out_h, out_w)
    y = rows[:, None, :, None].expand(grid_shape).reshape(
        taps, out_h, out_w) + offset[:, :, :, 0]
    xs = cols[None, :, None, :].expand(grid_shape).reshape(
        taps, out_h, out_w) + offset[:, :, :, 1]
    # pixel -> grid_sample's [-1, 1] (align_corners=False): (2 p + 1) / n - 1
    grid = torch.stack(((2 * xs + 1) / width - 1, (2 * y + 1) / height - 1),
                       dim=-1).view(batch * groups, taps * out_h, out_w, 2)
    sampled = F.grid_sample(
        x.reshape(batch * groups, channels // groups, height, width),
        grid,
        mode='bilinear',
        padding_mode='zeros',
        align_corners=False)  # (B * G, C / G, K * out_h, out_w)
    sampled = sampled.view(batch, groups, channels // groups, taps,
                           out_h * out_w)
    mask = mask.to(x.dtype).view(batch, groups, 1, taps, out_h * out_w)
    # in place (a large buffer less) unless autograd needs the samples
    sampled = (sampled * mask if torch.is_grad_enabled() else
               sampled.mul_(mask))
    # columns ordered (channel, tap), as weight.flatten(1)
    out = torch.matmul(
        weight.reshape(out_channels, channels * taps),
        sampled.view(batch, channels * taps, out_h * out_w))
    if bias is not None:
        out = out + bias.view(1, out_channels, 1)
    return out.view(batch, out_channels, out_h, out_w)


class ModulatedDeformConv2dPT(nn.Module):
    """DCNv2 taking the offset and mask as inputs, as mmcv's
    ``ModulatedDeformConv2d`` (same arguments, parameters and init:
    weight U(-1/sqrt(fan_in), 1/sqrt(fan_in)), bias 0).

    Args:
        in_channels (int): C.
        out_channels (int): C_out.
        kernel_size (int | tuple[int, int]): (kh, kw).
        stride, padding, dilation (int | tuple[int, int]): As ``Conv2d``.
        groups (int): Must be 1 (no grouped convolution here).
        deform_groups (int): Offset groups G, a divisor of ``in_channels``.
        bias (bool | str): With a bias; ConvModule resolves ``'auto'``.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: IntPair,
                 stride: IntPair = 1,
                 padding: IntPair = 0,
                 dilation: IntPair = 1,
                 groups: int = 1,
                 deform_groups: int = 1,
                 bias: Union[bool, str] = True) -> None:
        super().__init__()
        name = type(self).__name__
        if groups != 1:
            raise ValueError(
                f'{name}: groups must be 1 (the pure-PyTorch DCN has no '
                f'grouped convolution; use mmcv\'s DCNv2, dcn_impl=\'mmcv\', '
                f'for groups > 1), got groups={groups}')
        if deform_groups < 1 or in_channels % deform_groups:
            raise ValueError(
                f'{name}: deform_groups must divide in_channels '
                f'({in_channels}), got deform_groups={deform_groups}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride)
        self.padding = _pair(padding)
        self.dilation = _pair(dilation)
        self.groups = groups
        self.deform_groups = deform_groups
        # attributes nn.Conv2d users (e.g. ConvModule, fuse_conv_bn) read
        self.transposed = False
        self.output_padding = (0, )
        self.weight = nn.Parameter(
            torch.empty(out_channels, in_channels, *self.kernel_size))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_channels))
        else:
            self.register_parameter('bias', None)
        self.init_weights()

    def init_weights(self) -> None:
        """mmcv's init: weight U(-b, b), b = 1 / sqrt(in_channels * kh *
        kw); bias 0."""
        bound = 1 / math.sqrt(self.in_channels * self.kernel_size[0] *
                              self.kernel_size[1])
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: Tensor, offset: Tensor, mask: Tensor) -> Tensor:
        """See :func:`modulated_deform_conv2d` for the shapes."""
        return modulated_deform_conv2d(x, offset, mask, self.weight,
                                       self.bias, self.stride, self.padding,
                                       self.dilation, self.deform_groups)


@MODELS.register_module('DCNv2PT')
class ModulatedDeformConv2dPackPT(ModulatedDeformConv2dPT):
    """DCNv2 with its own offset/mask conv, a drop-in for mmcv's
    ``ModulatedDeformConv2dPack`` (``conv_cfg=dict(type='DCNv2PT')``).

    ``conv_offset`` (3 * G * K output channels, zero-initialised) predicts
    offsets and mask; its output is split in three equal chunks: the first
    two are the offsets, the third the mask logits (sigmoid). Built in
    mmcv's order (weight init, offset conv, weight init again), so a
    seeded model gets mmcv's initial parameters.

    Args:
        See :class:`ModulatedDeformConv2dPT`.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.conv_offset = nn.Conv2d(
            self.in_channels,
            self.deform_groups * 3 * self.kernel_size[0] * self.kernel_size[1],
            kernel_size=self.kernel_size,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            bias=True)
        self.init_weights()

    def init_weights(self) -> None:
        """:class:`ModulatedDeformConv2dPT`'s init, ``conv_offset`` 0."""
        super().init_weights()
        if hasattr(self, 'conv_offset'):
            nn.init.zeros_(self.conv_offset.weight)
            nn.init.zeros_(self.conv_offset.bias)

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        """DCNv2 of ``x`` (B, C, H, W) -> (B, C_out, H_o, W_o)."""
        offset_y_x_1, offset_y_x_2, mask = torch.chunk(
            self.conv_offset(x), 3, dim=1)
        offset = torch.cat((offset_y_x_1, offset_y_x_2), dim=1)
        return super().forward(x, offset, torch.sigmoid(mask))
