"""Feature encoder of Panoptic FCN (paper Sec. 3.4): turns the stride-4
high-resolution feature F_h into the encoded feature F_e that every
generated kernel is convolved with."""
from mmengine.model import BaseModule
from torch import Tensor

from mmpfcn.models.layers.conv_stack import conv_stack, init_conv_stack
from mmpfcn.models.layers.coord import cat_coords
from mmpfcn.registry import MODELS


@MODELS.register_module()
class FeatureEncoder(BaseModule):
    """Coordinates + ``num_convs`` x [3x3 conv with bias, ReLU].

    The ReLU follows the last conv too and there is no norm, as in the
    reference (``norm_cfg`` adds one after every conv, whose convs then
    have no bias). The enhanced ("star") model uses DCNv2 convs and
    ``feat_channels=256``. Initialised as the reference
    (:func:`~mmpfcn.models.layers.conv_stack.init_conv_stack`): PyTorch's
    default conv init (std 1 / sqrt(3 fan_in), about 0.012 on the first
    conv of the R50 model), DCNv2 weights Kaiming uniform for ReLU. With
    no norm after them, F_e starts small; an ``init_cfg`` overrides this.

    Parameter names: ``convs.{i}.conv`` corresponds to the reference's
    ``feature_encoder.encode_head.encode_head_head_{i+1}``.

    Args:
        in_channels (int): Channels of F_h. Defaults to 256.
        feat_channels (int): C_e, channels of the convs and of F_e
            (a paper ablation). Defaults to 64.
        num_convs (int): Number of convs. Defaults to 3.
        with_coord (bool): Append [Y, X] coordinates (a paper ablation).
            Defaults to True.
        use_dcn (bool): DCNv2 convs. Defaults to False.
        dcn_impl (str): Their implementation, ``'pytorch'`` or ``'mmcv'``
            (see :func:`~mmpfcn.models.layers.conv_stack.conv_stack`).
            Defaults to ``'pytorch'``.
        norm_cfg (dict, optional): Norm after every conv (paper ablation),
            e.g. ``dict(type='GN', num_groups=32)``. Defaults to None.
        init_cfg (dict, optional): mmengine init config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int = 256,
                 feat_channels: int = 64,
                 num_convs: int = 3,
                 with_coord: bool = True,
                 use_dcn: bool = False,
                 norm_cfg: dict = None,
                 dcn_impl: str = 'pytorch',
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_convs < 1:
            raise ValueError('FeatureEncoder: num_convs must be >= 1 (the '
                             f'last conv sets C_e), got {num_convs}')
        self.with_coord = with_coord
        self.out_channels = feat_channels
        self.convs = conv_stack(
            in_channels + 2 if with_coord else in_channels,
            feat_channels,
            num_convs,
            norm_cfg=norm_cfg,
            use_dcn=use_dcn,
            dcn_impl=dcn_impl)

    def init_weights(self) -> None:
        """The reference's init (:func:`init_conv_stack`); an ``init_cfg``
        is applied on top."""
        if not self.is_init:
            init_conv_stack(self.convs)
        super().init_weights()

    def forward(self, x: Tensor) -> Tensor:
        """Encode F_h.

        Args:
            x (Tensor): F_h of shape (B, in_channels, H/4, W/4).

        Returns:
            Tensor: F_e of shape (B, feat_channels, H/4, W/4).
        """
        if self.with_coord:
            x = cat_coords(x)  # (B, in_channels + 2, H/4, W/4)
        return self.convs(x)
