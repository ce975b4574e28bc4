"""The [3x3 conv, norm, ReLU] stacks of the position head, the kernel head
and the feature encoder, with the reference's initialisation."""
from mmcv.cnn import ConvModule
from mmcv.ops import ModulatedDeformConv2dPack
from mmengine.model.weight_init import constant_init
from torch import nn

from .deform_conv import ModulatedDeformConv2dPackPT

# conv type of each DCNv2 implementation (``dcn_impl``): mmcv's compiled op
# or the pure-PyTorch one (equal outputs; runs everywhere, exports to ONNX)
DCN_TYPES = {'mmcv': 'DCNv2', 'pytorch': 'DCNv2PT'}
DCN_CLASSES = (ModulatedDeformConv2dPack, ModulatedDeformConv2dPackPT)


def dcn_conv_cfg(dcn_impl: str) -> dict:
    """The ConvModule ``conv_cfg`` of a DCNv2 implementation.

    Raises:
        ValueError: ``dcn_impl`` not one of :data:`DCN_TYPES`.
    """
    if dcn_impl not in DCN_TYPES:
        raise ValueError(f'dcn_impl must be one of {sorted(DCN_TYPES)}, got '
                         f'{dcn_impl!r}')
    return dict(type=DCN_TYPES[dcn_impl])


def conv_stack(in_channels: int,
               feat_channels: int,
               num_convs: int,
               norm_cfg: dict = None,
               use_dcn: bool = False,
               dcn_impl: str = 'pytorch') -> nn.Sequential:
    """``num_convs`` x [3x3 conv, norm, ReLU] (DCNv2 convs if ``use_dcn``).

    With a norm the convs have no bias. A DCNv2 conv (mmcv's
    ``ModulatedDeformConv2dPack`` or its pure-PyTorch equal
    :class:`~mmpfcn.models.layers.deform_conv.ModulatedDeformConv2dPackPT`,
    same parameters) owns its 27-channel offset/mask conv
    ``conv.conv_offset``, whose output is split into offset part 1, part 2
    and the mask (sigmoid), as the reference's ``offset_mask_conv``.

    The blocks leave the constructor with ConvModule's init; call
    :func:`init_conv_stack` for the reference's.

    Args:
        in_channels (int): Input channels of the first conv.
        feat_channels (int): Output channels of every conv.
        num_convs (int): Number of blocks (0 gives an identity).
        norm_cfg (dict, optional): Norm layer config; None for no norm.
        use_dcn (bool): Use modulated deformable convs. Defaults to False.
        dcn_impl (str): Their implementation, ``'pytorch'`` (plain PyTorch
            ops: any device, ONNX export, faster on CPU) or ``'mmcv'``
            (mmcv's compiled op). Defaults to ``'pytorch'``.

    Returns:
        nn.Sequential: The blocks; block ``i`` has ``.conv`` and, with a
        norm, ``.norm``.
    """
    if num_convs < 0:
        raise ValueError(f'conv_stack: num_convs must be >= 0, got '
                         f'{num_convs}')
    conv_cfg = dcn_conv_cfg(dcn_impl) if use_dcn else None
    return nn.Sequential(*[
        ConvModule(
            in_channels if i == 0 else feat_channels,
            feat_channels,
            3,
            padding=1,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg) for i in range(num_convs)
    ])


def init_conv_stack(stack: nn.Sequential) -> None:
    """Initialise a :func:`conv_stack` as the reference initialises its
    heads and feature encoder.

    - Plain convs: PyTorch's default (``nn.Conv2d.reset_parameters``):
      weights U(-b, b) with b = 1 / sqrt(fan_in) (Kaiming uniform with
      a = sqrt(5)), std = 1 / sqrt(3 fan_in); biases U(-b, b) too.
    - DCNv2 convs (detectron2's ``ModulatedDeformConv``): Kaiming uniform
      for ReLU, b = sqrt(6 / fan_in), std = sqrt(2 / fan_in); bias 0.
      Their offset/mask conv is a plain ``nn.Conv2d`` with PyTorch's
      default init, so training starts from a slightly perturbed grid.
    - Norms: weight 1, bias 0.

    Here fan_in = in_channels x 9.

    Args:
        stack (nn.Sequential): Blocks built by :func:`conv_stack`.
    """
    for block in stack:
        conv = block.conv
        if isinstance(conv, DCN_CLASSES):
            nn.init.kaiming_uniform_(conv.weight, nonlinearity='relu')
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)
            conv.conv_offset.reset_parameters()
        else:
            conv.reset_parameters()
        if block.with_norm:
            constant_init(block.norm, 1, bias=0)
