"""Stuff targets of Panoptic FCN (spec Sec. 2): the soft stride-4 one-hot of
the stuff map and its focal targets and regions at every level, as pure
functions."""
from typing import List, Sequence, Tuple

import torch
from torch import Tensor

from mmpfcn.models.task_modules.image_targets import (
    resize_and_pad,
    resize_maps,
)


def stuff_one_hot(stuff_map: Tensor, num_stuff_classes: int,
                  ignore_index: int, with_things: bool,
                  valid_size: Tuple[int, int],
                  enc_size: Tuple[int, int]) -> Tensor:
    """Soft stride-4 one-hot of the (unpadded) stuff map, resized to
    ``valid_size`` and zero-padded to ``enc_size``.

    Channel 0 holds every thing pixel (``with_things``); without it stuff
    class v is channel v - 1 and thing pixels are negatives like the
    ignore pixels. Only the channels present are resized (bilinear is
    linear, absent channels stay 0), which avoids a full-resolution
    (N_st, H, W) map.

    Args:
        stuff_map (Tensor): Stuff map of the image region (H, W), long: 0
            = thing, 1..num_stuff_classes = stuff, ``ignore_index`` = void.
        num_stuff_classes (int): Stuff classes without the things channel.
        ignore_index (int): Void value.
        with_things (bool): Channel 0 holds all things.
        valid_size (tuple[int, int]): Stride-4 size of the image region.
        enc_size (tuple[int, int]): Stride-4 size of the padded input.

    Returns:
        Tensor: (N_st, *enc_size), N_st = num_stuff_classes + with_things.
    """
    num_channels = num_stuff_classes + int(with_things)
    void = stuff_map == ignore_index
    valid = void | ((stuff_map >= 0) & (stuff_map <= num_stuff_classes))
    if not bool(valid.all()):
        raise ValueError(
            'get_targets: gt_stuff_map holds values '
            f'{torch.unique(stuff_map[~valid]).tolist()}; expected 0 '
            f'(things), 1..{num_stuff_classes} (stuff) or '
            f'{ignore_index} (void)')
    if not with_things:
        # stuff v -> channel v - 1; thing pixels become negatives
        stuff_map = stuff_map - 1
        void |= stuff_map < 0
    # bincount, not unique: no sort of the full-resolution map
    counts = torch.bincount(
        torch.where(void, num_channels, stuff_map).flatten(),
        minlength=num_channels + 1)
    present = counts[:num_channels].nonzero().squeeze(1)
    one_hot = (stuff_map[None] == present[:, None, None]).float()
    stuff_masks = one_hot.new_zeros(num_channels, *enc_size)
    stuff_masks[present] = resize_and_pad(one_hot, valid_size, enc_size)
    return stuff_masks


def level_stuff_targets(
    stuff_masks: Tensor, level_sizes: Sequence[Tuple[int, int]],
    region_thr: float
) -> Tuple[List[Tensor], List[Tensor], List[Tensor]]:
    """The stuff targets of every level from the stride-4 one-hot.

    At each level the one-hot is resized, clamped to <= 1 and values below
    ``region_thr`` become 0 (the focal target); a channel with a value left
    is a target there, its region the nonzero values.

    Args:
        stuff_masks (Tensor): Soft stride-4 one-hot (N_st, H/4, W/4).
        level_sizes (Sequence[tuple[int, int]]): (h_l, w_l) per level.
        region_thr (float): Values below it are 0.

    Returns:
        tuple[list[Tensor], list[Tensor], list[Tensor]]: Per level the
        focal targets (N_st, h_l, w_l), the target channels (m_l,) and
        their regions (m_l, h_l, w_l) bool.
    """
    heatmaps, labels, regions = [], [], []
    for size in level_sizes:
        heat = resize_maps(stuff_masks, size).clamp(max=1)
        heat[heat < region_thr] = 0
        present = heat.flatten(1).amax(dim=1).nonzero().squeeze(1)
        heatmaps.append(heat)
        labels.append(present)
        regions.append(heat[present] > 0)
    return heatmaps, labels, regions
