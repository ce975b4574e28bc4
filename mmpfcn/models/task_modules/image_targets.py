"""The targets of one image (:class:`ImageTargets`), the sizes they are
built at (:class:`TargetSizes`) and the bilinear resizing that brings masks
to those sizes."""
from dataclasses import dataclass
from typing import List, NamedTuple, Tuple

import torch.nn.functional as F
from torch import Tensor


@dataclass
class ImageTargets:
    """Every training target of one image (L levels, P3..P7).

    Attributes:
        thing_heatmaps (list[Tensor]): Focal targets (N_th, h_l, w_l).
        stuff_heatmaps (list[Tensor]): Focal targets (N_st, h_l, w_l).
        thing_masks (Tensor): Soft stride-4 masks of the non-crowd
            instances, (N_inst, H/4, W/4) (dice targets).
        stuff_masks (Tensor): Soft stride-4 one-hot stuff map,
            (N_st, H/4, W/4) (dice targets).
        thing_inds (list[Tensor]): Indices into ``thing_masks`` of the
            instances assigned to each level, (n_l,), at most
            ``max_things_per_level``.
        thing_labels (list[Tensor]): Their classes, (n_l,).
        thing_regions (list[Tensor]): Their top-k candidate regions,
            (n_l, h_l, w_l) bool.
        stuff_labels (list[Tensor]): Stuff channels that are targets at each
            level, (m_l,).
        stuff_regions (list[Tensor]): Their regions, (m_l, h_l, w_l) bool.
        num_things (int): ``sum_l n_l``, this image's share of the thing
            loss normaliser.
        thing_centers (list[Tensor]): Flat level position ``y * w_l + x``
            of each of those instances' heatmap peak (its centre), (n_l,);
            the kernel position of the single-centre (unweighted) dice.
    """
    thing_heatmaps: List[Tensor]
    stuff_heatmaps: List[Tensor]
    thing_masks: Tensor
    stuff_masks: Tensor
    thing_inds: List[Tensor]
    thing_labels: List[Tensor]
    thing_regions: List[Tensor]
    stuff_labels: List[Tensor]
    stuff_regions: List[Tensor]
    num_things: int
    thing_centers: List[Tensor]


class TargetSizes(NamedTuple):
    """The sizes the targets of one image are built at.

    Attributes:
        pad (tuple[int, int]): (H_pad, W_pad) of the batch input.
        image (tuple[int, int]): (H, W) of the image inside it.
        encoder (tuple[int, int]): Stride-4 size of the padded input, the
            size of F_e and of the mask targets.
        valid (tuple[int, int]): Stride-4 size of the image region.
        levels (list[tuple[int, int]]): (h_l, w_l) of P3..P7.
    """
    pad: Tuple[int, int]
    image: Tuple[int, int]
    encoder: Tuple[int, int]
    valid: Tuple[int, int]
    levels: List[Tuple[int, int]]


def resize_maps(maps: Tensor, size: Tuple[int, int]) -> Tensor:
    """Bilinearly resize (N, h, w) maps (align_corners=False), N may be 0.

    Args:
        maps (Tensor): Maps of shape (N, h, w), float.
        size (tuple[int, int]): Output size (h', w').

    Returns:
        Tensor: (N, h', w').
    """
    if maps.shape[0] == 0:
        return maps.new_zeros(0, *size)
    return F.interpolate(
        maps[None], size=size, mode='bilinear', align_corners=False)[0]


def resize_and_pad(maps: Tensor, size: Tuple[int, int],
                   pad_size: Tuple[int, int]) -> Tensor:
    """Bilinearly resize (N, h, w) maps to ``size`` and zero-pad them at the
    bottom and right to ``pad_size``.

    Args:
        maps (Tensor): Maps of shape (N, h, w), float.
        size (tuple[int, int]): Size of the resized maps.
        pad_size (tuple[int, int]): Output size, at least ``size``.

    Returns:
        Tensor: (N, *pad_size).
    """
    resized = resize_maps(maps, size)
    return F.pad(resized, (0, pad_size[1] - size[1], 0, pad_size[0] - size[0]))
