"""Kernel generator of Panoptic FCN (paper Sec. 3.2): a position head that
predicts object centres (things) and regions (stuff), and a kernel head
that predicts a kernel at every position; both are shared over P3..P7."""
from typing import List, Sequence, Tuple

from mmengine.model import BaseModule
from mmengine.model.weight_init import normal_init
from torch import Tensor, nn

from mmpfcn.models.layers.conv_stack import conv_stack, init_conv_stack
from mmpfcn.models.layers.coord import cat_coords
from mmpfcn.registry import MODELS

GN32 = dict(type='GN', num_groups=32, requires_grad=True)
# bias of the position outputs: -log((1 - 0.1) / 0.1), a 0.1 focal prior
FOCAL_PRIOR_BIAS = -2.19


@MODELS.register_module()
class PositionHead(BaseModule):
    """Object centres and stuff regions at one FPN level.

    ``num_convs`` x [3x3 conv (DCNv2 in the reference), GN, ReLU] then two
    3x3 outputs: ``out_inst`` (thing centre heatmap logits, one channel
    per thing class) and ``out_sem`` (stuff region logits, channel 0 =
    "all things"). No coordinates in the reference; ``with_coord``
    appends [Y, X] once before the convs.

    Parameter names: ``convs.{i}.conv`` / ``.conv.conv_offset`` / ``.gn``
    correspond to the reference's
    ``position_head.position_head.position_head_head_{i+1}.dcnv2`` /
    ``.offset_mask_conv`` / ``.dcnv2.norm``; ``out_inst`` and ``out_sem``
    keep their names.

    Args:
        num_things_classes (int): N_th. Defaults to 80.
        num_stuff_channels (int): N_st = stuff classes + 1. Defaults to 54.
        in_channels (int): Channels of the FPN levels. Defaults to 256.
        feat_channels (int): Channels of the convs. Defaults to 256.
        num_convs (int): Number of conv blocks. Defaults to 3.
        use_dcn (bool): DCNv2 convs (the reference). Defaults to True.
        dcn_impl (str): DCNv2 implementation, ``'pytorch'`` or ``'mmcv'``
            (equal outputs, same parameters; see
            :func:`~mmpfcn.models.layers.conv_stack.conv_stack`). Defaults
            to ``'pytorch'``.
        with_coord (bool): Append coordinates (paper ablation).
            Defaults to False.
        norm_cfg (dict): Norm of the blocks. Defaults to GN(32).
        init_cfg (dict, optional): mmengine init config. Defaults to None.
    """

    def __init__(self,
                 num_things_classes: int = 80,
                 num_stuff_channels: int = 54,
                 in_channels: int = 256,
                 feat_channels: int = 256,
                 num_convs: int = 3,
                 use_dcn: bool = True,
                 with_coord: bool = False,
                 norm_cfg: dict = GN32,
                 dcn_impl: str = 'pytorch',
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.num_things_classes = num_things_classes
        self.num_stuff_channels = num_stuff_channels
        self.with_coord = with_coord
        stack_in = in_channels + 2 if with_coord else in_channels
        self.convs = conv_stack(stack_in, feat_channels, num_convs, norm_cfg,
                                use_dcn, dcn_impl)
        out_in = feat_channels if num_convs > 0 else stack_in
        self.out_inst = nn.Conv2d(out_in, num_things_classes, 3, padding=1)
        self.out_sem = nn.Conv2d(out_in, num_stuff_channels, 3, padding=1)

    def init_weights(self) -> None:
        """The reference's init: the convs as :func:`init_conv_stack`
        (DCNv2 weights Kaiming uniform for ReLU, offset/mask convs and
        plain convs PyTorch's default, GN 1 / 0); ``out_inst`` and
        ``out_sem`` N(0, 0.01) with the focal prior bias -2.19. An
        ``init_cfg`` is applied on top."""
        if not self.is_init:
            init_conv_stack(self.convs)
            normal_init(self.out_inst, std=0.01, bias=FOCAL_PRIOR_BIAS)
            normal_init(self.out_sem, std=0.01, bias=FOCAL_PRIOR_BIAS)
        super().init_weights()

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """Position logits of one level.

        Args:
            x (Tensor): FPN level of shape (B, in_channels, h, w).

        Returns:
            tuple[Tensor, Tensor]: Thing logits (B, N_th, h, w) and stuff
            logits (B, N_st, h, w).
        """
        if self.with_coord:
            x = cat_coords(x)  # (B, in_channels + 2, h, w)
        x = self.convs(x)
        return self.out_inst(x), self.out_sem(x)


@MODELS.register_module()
class KernelHead(BaseModule):
    """A kernel (256-d by default) at every position of one FPN level.

    [Y, X] coordinates are appended once (``with_coord``), then
    ``num_convs`` x [3x3 conv without bias (DCNv2 with ``use_dcn``, off in
    the reference), GN, ReLU] and ``out_conv``, a 3x3 conv with bias and
    no norm or activation.

    Parameter names: ``convs.{i}.conv`` / ``.gn`` correspond to the
    reference's ``kernel_head.kernel_head.kernel_head_head_{i+1}`` /
    ``.norm``; ``out_conv`` keeps its name.

    Args:
        in_channels (int): Channels of the FPN levels. Defaults to 256.
        feat_channels (int): Channels of the convs and of the kernels.
            Defaults to 256.
        num_convs (int): Number of conv blocks. Defaults to 3.
        with_coord (bool): Append coordinates. Defaults to True.
        use_dcn (bool): DCNv2 convs (paper ablation). Defaults to False.
        dcn_impl (str): DCNv2 implementation, ``'pytorch'`` or ``'mmcv'``
            (equal outputs, same parameters; see
            :func:`~mmpfcn.models.layers.conv_stack.conv_stack`). Defaults
            to ``'pytorch'``.
        norm_cfg (dict): Norm of the blocks. Defaults to GN(32).
        init_cfg (dict, optional): mmengine init config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int = 256,
                 feat_channels: int = 256,
                 num_convs: int = 3,
                 with_coord: bool = True,
                 use_dcn: bool = False,
                 norm_cfg: dict = GN32,
                 dcn_impl: str = 'pytorch',
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.with_coord = with_coord
        self.out_channels = feat_channels
        stack_in = in_channels + 2 if with_coord else in_channels
        self.convs = conv_stack(stack_in, feat_channels, num_convs, norm_cfg,
                                use_dcn, dcn_impl)
        out_in = feat_channels if num_convs > 0 else stack_in
        self.out_conv = nn.Conv2d(out_in, feat_channels, 3, padding=1)

    def init_weights(self) -> None:
        """The reference's init: the convs PyTorch's default (GN 1 / 0,
        see :func:`init_conv_stack`); ``out_conv`` N(0, 0.01), bias 0.
        An ``init_cfg`` is applied on top."""
        if not self.is_init:
            init_conv_stack(self.convs)
            normal_init(self.out_conv, std=0.01, bias=0)
        super().init_weights()

    def forward(self, x: Tensor) -> Tensor:
        """Kernel map of one level.

        Args:
            x (Tensor): FPN level of shape (B, in_channels, h, w).

        Returns:
            Tensor: Kernels of shape (B, feat_channels, h, w).
        """
        if self.with_coord:
            x = cat_coords(x)  # (B, in_channels + 2, h, w)
        return self.out_conv(self.convs(x))


@MODELS.register_module()
class KernelGenerator(BaseModule):
    """Position head + kernel head, applied with shared weights to every
    level P3..P7.

    Args:
        num_things_classes (int): N_th. Defaults to 80.
        num_stuff_channels (int): N_st (stuff classes + 1). Defaults to 54.
        in_channels (int): Channels of the FPN levels. Defaults to 256.
        feat_channels (int): Channels of both heads' convs and of the
            kernels. Defaults to 256.
        position_num_convs (int): Conv blocks of the position head (paper
            Table 1). Defaults to 3.
        kernel_num_convs (int): Conv blocks of the kernel head (paper
            Table 1). Defaults to 3.
        position_dcn (bool): DCNv2 convs in the position head (the
            reference). Defaults to True.
        kernel_dcn (bool): DCNv2 convs in the kernel head. Defaults to
            False.
        dcn_impl (str): DCNv2 implementation of both heads, ``'pytorch'``
            or ``'mmcv'`` (see :class:`PositionHead`). Defaults to
            ``'pytorch'``.
        position_coord (bool): Coordinates in the position head.
            Defaults to False.
        kernel_coord (bool): Coordinates in the kernel head (paper
            Table 2). Defaults to True.
        norm_cfg (dict): Norm of the blocks. Defaults to GN(32).
        init_cfg (dict, optional): mmengine init config. Defaults to None.
    """

    def __init__(self,
                 num_things_classes: int = 80,
                 num_stuff_channels: int = 54,
                 in_channels: int = 256,
                 feat_channels: int = 256,
                 position_num_convs: int = 3,
                 kernel_num_convs: int = 3,
                 position_dcn: bool = True,
                 kernel_dcn: bool = False,
                 position_coord: bool = False,
                 kernel_coord: bool = True,
                 norm_cfg: dict = GN32,
                 dcn_impl: str = 'pytorch',
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.position_head = PositionHead(
            num_things_classes=num_things_classes,
            num_stuff_channels=num_stuff_channels,
            in_channels=in_channels,
            feat_channels=feat_channels,
            num_convs=position_num_convs,
            use_dcn=position_dcn,
            with_coord=position_coord,
            norm_cfg=norm_cfg,
            dcn_impl=dcn_impl)
        self.kernel_head = KernelHead(
            in_channels=in_channels,
            feat_channels=feat_channels,
            num_convs=kernel_num_convs,
            with_coord=kernel_coord,
            use_dcn=kernel_dcn,
            norm_cfg=norm_cfg,
            dcn_impl=dcn_impl)

    def forward(
        self, feats: Sequence[Tensor]
    ) -> Tuple[List[Tensor], List[Tensor], List[Tensor]]:
        """Apply both heads to every level.

        Args:
            feats (Sequence[Tensor]): P3..P7, level l of shape
                (B, in_channels, h_l, w_l).

        Returns:
            tuple[list[Tensor], list[Tensor], list[Tensor]]: Per level:
            thing logits (B, N_th, h_l, w_l), stuff logits
            (B, N_st, h_l, w_l) and kernels (B, feat_channels, h_l, w_l).
        """
        thing_logits, stuff_logits, kernels = [], [], []
        for x in feats:
            thing, stuff = self.position_head(x)
            thing_logits.append(thing)
            stuff_logits.append(stuff)
            kernels.append(self.kernel_head(x))
        return thing_logits, stuff_logits, kernels
