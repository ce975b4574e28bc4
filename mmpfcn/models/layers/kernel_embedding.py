"""The kernel embedding shared by the thing and stuff generators (paper
Sec. 3.2-3.3): a 1x1 conv that maps gathered kernels to C_e, and the
dynamic convolution of embedded kernels with the encoded feature F_e."""
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.model.weight_init import normal_init
from torch import Tensor, nn


class KernelEmbedding(BaseModule):
    """Owns ``embed_extractor``, a 1x1 conv C -> C_e (kept as a conv so its
    weights have the reference's (C_e, C, 1, 1) shape and name), N(0, 0.01)
    weights and zero bias as in the reference.

    Args:
        in_channels (int): C, channels of the gathered kernels.
            Defaults to 256.
        embed_channels (int): C_e, channels of F_e. Defaults to 64.
        init_cfg (dict, optional): mmengine init config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int = 256,
                 embed_channels: int = 64,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.embed_extractor = nn.Conv2d(in_channels, embed_channels, 1)

    def init_weights(self) -> None:
        """The reference's init, N(0, 0.01) weights and zero bias; an
        ``init_cfg`` is applied on top."""
        if not self.is_init:
            normal_init(self.embed_extractor, std=0.01, bias=0)
        super().init_weights()

    def embed(self, kernels: Tensor) -> Tensor:
        """Embed gathered kernels: (N, C) -> (N, C_e); N may be 0."""
        return F.linear(kernels, self.embed_extractor.weight.flatten(1),
                        self.embed_extractor.bias)

    @staticmethod
    def mask_logits(kernels: Tensor, encoded_feat: Tensor) -> Tensor:
        """P_j = K_j . F_e at every pixel (no bias).

        Args:
            kernels (Tensor): Embedded kernels (N, C_e).
            encoded_feat (Tensor): F_e of one image (C_e, h, w).

        Returns:
            Tensor: Mask logits (N, h, w).
        """
        return torch.einsum('nc,chw->nhw', kernels, encoded_feat)


def concat_levels(
    per_level: Sequence[Sequence[Tuple[Tensor, Tensor, Tensor]]]
) -> List[Tuple[Tensor, Tensor, Tensor]]:
    """Concatenate the (kernels, scores, labels) that every level selected
    for each image (their number differs between images and levels).

    Args:
        per_level: Per level, per image: kernels (n, C), scores (n,) and
            labels (n,).

    Returns:
        list[tuple[Tensor, Tensor, Tensor]]: Per image, the three
        concatenated over the levels, level by level.
    """
    return [
        tuple(torch.cat(parts) for parts in zip(*levels))
        for levels in zip(*per_level)
    ]
