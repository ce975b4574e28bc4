"""Training targets of Panoptic FCN (Sec. 3.2-3.4 of the paper).

Pure functions for the pieces (Gaussian radius and heatmaps, mass centres,
level assignment) and :class:`PanopticFCNTargetGenerator`, which builds every
target of one image. How the generators read kernels at the targets' positions
is in :mod:`mmpfcn.models.layers.kernel_gathering`.
"""
from dataclasses import dataclass
from typing import List, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData
from torch import Tensor

from mmpfcn.registry import TASK_UTILS


def gaussian_radius(heights: Tensor,
                    widths: Tensor,
                    min_overlap: float = 0.7) -> Tensor:
    """CenterNet Gaussian radius of boxes, in the reference's original form.

    The three quadratic roots (both corners inside, both outside, one of
    each) are each divided by 2, as in the original CornerNet code the
    reference uses (not the corrected ``/ (2a)`` form), and
    ``r = int(max(0, min(r1, r2, r3)))``.

    Args:
        heights (Tensor): Box heights on the level grid, shape (N,).
        widths (Tensor): Box widths on the level grid, shape (N,).
        min_overlap (float): Minimum IoU of a box whose corners move by
            the radius. Defaults to 0.7.

    Returns:
        Tensor: Radii of shape (N,), dtype long (truncated towards zero).
    """
    h = heights.float()
    w = widths.float()
    b1 = h + w
    c1 = w * h * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + torch.sqrt(b1**2 - 4 * c1)) / 2

    a2 = 4
    b2 = 2 * (h + w)
    c2 = (1 - min_overlap) * w * h
    r2 = (b2 + torch.sqrt(b2**2 - 4 * a2 * c2)) / 2

    a3 = 4 * min_overlap
    b3 = -2 * min_overlap * (h + w)
    c3 = (min_overlap - 1) * w * h
    r3 = (b3 + torch.sqrt(b3**2 - 4 * a3 * c3)) / 2

    radius = torch.minimum(r1, torch.minimum(r2, r3))
    return radius.clamp(min=0).long()


def draw_gaussian_heatmap(
        num_classes: int,
        size: Tuple[int, int],
        centers: Tensor,
        radii: Tensor,
        labels: Tensor,
        sigma_factor: float = 3.0,
        eps: float = torch.finfo(torch.float64).eps) -> Tensor:
    """Draw one Gaussian per instance on its class channel, merged by max.

    Every Gaussian has ``sigma = (2r + 1) / sigma_factor``, peak 1 at its
    centre, is limited to the ``(2r + 1) x (2r + 1)`` window around the
    centre (clipped at the map border) and values below ``eps * peak`` are
    0.
    All instances are drawn at once.

    Args:
        num_classes (int): Number of class channels.
        size (tuple[int, int]): Map size ``(h, w)``.
        centers (Tensor): Integer centres ``[y, x]``, shape (N, 2), long.
        radii (Tensor): Radii, shape (N,), long.
        labels (Tensor): Class channel of every instance, shape (N,).
        sigma_factor (float): The Gaussian's diameter ``2r + 1`` over its
            sigma (the reference's GAUSSIAN_SIGMA). Defaults to 3.
        eps (float): Relative cut-off of the Gaussian tails.

    Returns:
        Tensor: Heatmap of shape (num_classes, h, w), float32.
    """
    height, width = size
    device = centers.device
    heatmap = torch.zeros(num_classes, height * width, device=device)
    num = centers.shape[0]
    if num == 0:
        return heatmap.view(num_classes, height, width)
    if centers.shape != (num, 2) or radii.shape != (num, ) or \
            labels.shape != (num, ):
        raise ValueError('draw_gaussian_heatmap expects centers (N, 2), radii '
                         f'(N,) and labels (N,), got {tuple(centers.shape)}, '
                         f'{tuple(radii.shape)} and {tuple(labels.shape)}')
    radii = radii.to(device)
    dy = torch.arange(height, device=device) - centers[:, :1]  # (N, h)
    dx = torch.arange(width, device=device) - centers[:, 1:]  # (N, w)
    sigma = (2 * radii.float() + 1) / sigma_factor  # (N,)
    dist2 = (dy[:, :, None]**2 + dx[:, None, :]**2).float()  # (N, h, w)
    gauss = torch.exp(-dist2 / (2 * sigma**2)[:, None, None])
    in_window = ((dy.abs() <= radii[:, None])[:, :, None]
                 & (dx.abs() <= radii[:, None])[:, None, :])
    # the peak of every window is exp(0) = 1, so eps * max is just eps
    gauss = torch.where(in_window & (gauss >= eps), gauss, 0)
    index = labels.to(device).long()[:, None].expand(-1, height * width)
    heatmap.scatter_reduce_(0, index, gauss.view(num, -1), reduce='amax')
    return heatmap.view(num_classes, height, width)


def mass_centers(masks: Tensor) -> Tensor:
    """Mean row and column of the positive (> 0) pixels of every mask.

    Args:
        masks (Tensor): Masks of shape (N, h, w), bool or (soft) float.

    Returns:
        Tensor: Centres ``[y, x]`` of shape (N, 2), float32; NaN for a mask
        without positive pixels.
    """
    if masks.dim() != 3:
        raise ValueError('mass_centers expects masks of shape (N, h, w), got '
                         f'{tuple(masks.shape)}')
    _, height, width = masks.shape
    fg = masks > 0
    # integer sums are exact for any map size
    row_counts = fg.sum(dim=2)  # (N, h)
    col_counts = fg.sum(dim=1)  # (N, w)
    area = row_counts.sum(dim=1).float()  # (N,)
    rows = torch.arange(height, device=masks.device)
    cols = torch.arange(width, device=masks.device)
    y = (row_counts * rows).sum(dim=1).float() / area
    x = (col_counts * cols).sum(dim=1).float() / area
    return torch.stack((y, x), dim=1)


def assign_levels(scales: Tensor,
                  scale_ranges: Sequence[Tuple[float, float]]) -> Tensor:
    """Assign instances to every level whose closed scale range holds them.

    Args:
        scales (Tensor): ``sqrt(box area)`` of every instance, shape (N,).
        scale_ranges (Sequence[tuple[float, float]]): ``(low, high)`` per
            level; ranges may overlap and both ends are included.

    Returns:
        Tensor: Bool assignment of shape (L, N).
    """
    ranges = torch.as_tensor(
        scale_ranges, dtype=scales.dtype, device=scales.device)  # (L, 2)
    return ((scales[None] >= ranges[:, :1]) & (scales[None] <= ranges[:, 1:]))


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


def thing_centers(masks: Tensor, boxes: Tensor, stride: int,
                  center_type: str) -> Tensor:
    """The centre of every thing at stride 4: its mass centre (``'mass'``)
    or its box centre (``'box'``).

    A tiny instance can vanish in the bilinear stride-4 mask; its mass
    centre then falls back to its box centre instead of NaN.

    Args:
        masks (Tensor): Soft stride-4 masks (N, H/4, W/4).
        boxes (Tensor): Boxes (N, 4) xyxy in input pixels.
        stride (int): Stride of the masks.
        center_type (str): ``'mass'`` or ``'box'``.

    Returns:
        Tensor: Centres ``[y, x]`` (N, 2) at stride 4, float.
    """
    box_centers = torch.stack(
        ((boxes[:, 1] + boxes[:, 3]) / 2,
         (boxes[:, 0] + boxes[:, 2]) / 2), dim=1) / stride
    if center_type == 'box':
        return box_centers
    centers = mass_centers(masks)  # (N, 2) at stride 4
    return torch.where(centers.isnan(), box_centers, centers)


@TASK_UTILS.register_module()
class PanopticFCNTargetGenerator:
    """Build the position, kernel and mask targets of one image.

    Things: soft stride-4 masks (bilinear), Gaussian heatmaps at the mass
    (or box) centres on every level whose closed scale range holds
    ``sqrt(box area)``, and per level up to ``max_things_per_level``
    instances with their candidate regions for the top-k kernels. All
    instances of a level are drawn on its heatmap; only the kernel targets
    are capped.
    Stuff: the one-hot stuff map (channel 0 = all things, crowd included;
    ignore pixels all zero, i.e. negatives) resized to stride 4 and then to
    every level; values < ``stuff_region_thr`` become 0. Without the
    things channel (``stuff_with_things=False``, the reference's
    ``WITH_THING: False``) stuff class v is channel v - 1 and thing pixels
    are negatives like the ignore pixels.

    Args:
        num_things_classes (int): Thing classes (N_th). Defaults to 80.
        num_stuff_classes (int): Stuff classes without the "things"
            channel; N_st = num_stuff_classes + 1. Defaults to 53.
        strides (Sequence[int]): Level strides, only used to derive the
            level sizes when they are not given. Defaults to P3..P7.
        scale_ranges (Sequence[tuple]): Closed ``sqrt(area)`` range per
            level, in input pixels. Defaults to the COCO ranges.
        encoder_stride (int): Stride of the mask (encoder) resolution.
            Defaults to 4.
        max_things_per_level (int): Cap on kernel targets per level.
            Defaults to 100.
        gaussian_overlap (float): ``min_overlap`` of the Gaussian radius.
            Defaults to 0.7.
        stuff_region_thr (float): Stuff map values below it are 0.
            Defaults to 0.5.
        thing_region_thr (float): Resized masks above it form the top-k
            candidate region. Defaults to 0.1.
        ignore_index (int): Void value of the stuff map. Defaults to 255.
        center_type (str): ``'mass'`` (mean of the stride-4 mask's
            positive pixels, the reference's default) or ``'box'`` (box
            centre). Defaults to ``'mass'``.
        gaussian_sigma_factor (float): Diameter ``2r + 1`` of a Gaussian
            over its sigma. Defaults to 3.
        stuff_with_things (bool): Stuff channel 0 holds all things.
            Defaults to True.
    """

    def __init__(self,
                 num_things_classes: int = 80,
                 num_stuff_classes: int = 53,
                 strides: Sequence[int] = (8, 16, 32, 64, 128),
                 scale_ranges: Sequence[Tuple[float, float]] = (
                     (1, 64), (32, 128), (64, 256), (128, 512), (256, 2048)),
                 encoder_stride: int = 4,
                 max_things_per_level: int = 100,
                 gaussian_overlap: float = 0.7,
                 stuff_region_thr: float = 0.5,
                 thing_region_thr: float = 0.1,
                 ignore_index: int = 255,
                 center_type: str = 'mass',
                 gaussian_sigma_factor: float = 3.0,
                 stuff_with_things: bool = True) -> None:
        if len(strides) != len(scale_ranges):
            raise ValueError('PanopticFCNTargetGenerator: strides and '
                             'scale_ranges need one entry per level, got '
                             f'{len(strides)} and {len(scale_ranges)}')
        if 0 <= ignore_index <= num_stuff_classes:
            raise ValueError(f'PanopticFCNTargetGenerator: ignore_index '
                             f'{ignore_index} collides with the stuff '
                             f'labels 0..{num_stuff_classes}')
        if center_type not in ('mass', 'box'):
            raise ValueError('PanopticFCNTargetGenerator: center_type must '
                             f"be 'mass' or 'box', got {center_type!r}")
        self.num_things_classes = num_things_classes
        self.num_stuff_classes = num_stuff_classes
        self.stuff_with_things = stuff_with_things
        self.num_stuff_channels = num_stuff_classes + int(stuff_with_things)
        self.strides = tuple(strides)
        self.scale_ranges = tuple(tuple(r) for r in scale_ranges)
        self.encoder_stride = encoder_stride
        self.max_things_per_level = max_things_per_level
        self.gaussian_overlap = gaussian_overlap
        self.stuff_region_thr = stuff_region_thr
        self.thing_region_thr = thing_region_thr
        self.ignore_index = ignore_index
        self.center_type = center_type
        self.gaussian_sigma_factor = gaussian_sigma_factor

    @torch.no_grad()
    def get_targets(
            self,
            gt_instances: InstanceData,
            gt_stuff_map: Tensor,
            pad_shape: Tuple[int, int],
            level_sizes: Optional[Sequence[Tuple[int, int]]] = None,
            img_shape: Optional[Tuple[int, int]] = None) -> ImageTargets:
        """Build the targets of one image.

        Args:
            gt_instances (InstanceData): Non-crowd instances with ``labels``
                (N,) in [0, N_th), ``masks`` (mmdet ``BitmapMasks`` or a
                tensor (N, H_pad, W_pad)) and ``bboxes`` (N, 4) xyxy in
                input pixels (tensor or mmdet box type).
            gt_stuff_map (Tensor): Stuff map (H_pad, W_pad) or
                (1, H_pad, W_pad): 0 = thing, 1..num_stuff_classes = stuff,
                ``ignore_index`` = void/padding.
            pad_shape (tuple[int, int]): (H_pad, W_pad) of the batch input,
                which masks and stuff map are padded to.
            level_sizes (Sequence[tuple[int, int]], optional): (h_l, w_l)
                of P3..P7. Defaults to ``ceil(H_pad / stride)`` per level,
                which is what a stride-2 FPN gives for the padded input.
            img_shape (tuple[int, int], optional): (H, W) of the image
                inside the padded input (its ``img_shape`` meta). As in the
                reference, only this region is resized to stride 4, to
                ``int(H / 4 + 0.5) x int(W / 4 + 0.5)``, and the result is
                zero-padded to ``H_pad / 4 x W_pad / 4``. Defaults to
                ``pad_shape`` (no padding).

        Returns:
            ImageTargets: The targets, on the device of ``gt_stuff_map``.
        """
        sizes = self._target_sizes(pad_shape, level_sizes, img_shape)
        stuff_map = self._image_stuff_map(gt_stuff_map, sizes)
        stuff_masks = stuff_one_hot(stuff_map.long(), self.num_stuff_classes,
                                    self.ignore_index, self.stuff_with_things,
                                    sizes.valid, sizes.encoder)
        stuff_heatmaps, stuff_labels, stuff_regions = level_stuff_targets(
            stuff_masks, sizes.levels, self.stuff_region_thr)

        thing_masks, labels, boxes = self._thing_inputs(
            gt_instances, sizes, stuff_map.device)
        centers = thing_centers(thing_masks, boxes, self.encoder_stride,
                                self.center_type)
        box_w = (boxes[:, 2] - boxes[:, 0]).clamp(min=0)
        box_h = (boxes[:, 3] - boxes[:, 1]).clamp(min=0)
        assigned = assign_levels(torch.sqrt(box_w * box_h),
                                 self.scale_ranges)  # (L, N)
        thing_heatmaps, thing_inds, center_positions, thing_regions = zip(*(
            self._level_thing_targets(assigned[level].nonzero().squeeze(1),
                                      level, sizes, thing_masks, labels,
                                      box_h, box_w, centers)
            for level in range(len(sizes.levels))))

        return ImageTargets(
            thing_heatmaps=list(thing_heatmaps),
            stuff_heatmaps=stuff_heatmaps,
            thing_masks=thing_masks,
            stuff_masks=stuff_masks,
            thing_inds=list(thing_inds),
            thing_labels=[labels[inds] for inds in thing_inds],
            thing_regions=list(thing_regions),
            stuff_labels=stuff_labels,
            stuff_regions=stuff_regions,
            num_things=sum(len(inds) for inds in thing_inds),
            thing_centers=list(center_positions))

    def _target_sizes(self, pad_shape: Tuple[int, int],
                      level_sizes: Optional[Sequence[Tuple[int, int]]],
                      img_shape: Optional[Tuple[int, int]]) -> TargetSizes:
        """Check the sizes :meth:`get_targets` is given and derive the
        stride-4 ones, rounded as the reference rounds them."""
        pad_h, pad_w = int(pad_shape[0]), int(pad_shape[1])
        if level_sizes is None:
            level_sizes = [(-(-pad_h // s), -(-pad_w // s))
                           for s in self.strides]
        level_sizes = [(int(h), int(w)) for h, w in level_sizes]
        if len(level_sizes) != len(self.scale_ranges):
            raise ValueError(f'get_targets: level_sizes has '
                             f'{len(level_sizes)} levels, scale_ranges '
                             f'{len(self.scale_ranges)}')
        img_h, img_w = (pad_h, pad_w) if img_shape is None else (
            int(img_shape[0]), int(img_shape[1]))
        if not (0 < img_h <= pad_h and 0 < img_w <= pad_w):
            raise ValueError(f'get_targets: img_shape {(img_h, img_w)} must '
                             f'fit in the pad shape {(pad_h, pad_w)}')
        stride = self.encoder_stride
        enc_size = (int(pad_h / stride + 0.5), int(pad_w / stride + 0.5))
        valid_size = (min(int(img_h / stride + 0.5), enc_size[0]),
                      min(int(img_w / stride + 0.5), enc_size[1]))
        return TargetSizes(
            pad=(pad_h, pad_w),
            image=(img_h, img_w),
            encoder=enc_size,
            valid=valid_size,
            levels=level_sizes)

    @staticmethod
    def _image_stuff_map(gt_stuff_map: Tensor, sizes: TargetSizes) -> Tensor:
        """The padded stuff map, checked, cropped to the image region."""
        if gt_stuff_map.dim() == 3 and gt_stuff_map.shape[0] == 1:
            gt_stuff_map = gt_stuff_map[0]
        if tuple(gt_stuff_map.shape) != sizes.pad:
            raise ValueError('get_targets: gt_stuff_map must have the pad '
                             f'shape {sizes.pad}, got '
                             f'{tuple(gt_stuff_map.shape)}')
        return gt_stuff_map[:sizes.image[0], :sizes.image[1]]

    def _thing_inputs(self, gt_instances: InstanceData, sizes: TargetSizes,
                      device: torch.device) -> Tuple[Tensor, Tensor, Tensor]:
        """Validate the instances; return soft stride-4 masks (N, H/4, W/4)
        (the image region resized to ``sizes.valid``, zero-padded), labels
        (N,) and boxes (N, 4) on ``device``."""
        for name in ('labels', 'masks', 'bboxes'):
            if name not in gt_instances:
                raise KeyError(f'get_targets: gt_instances has no {name!r}')
        labels = gt_instances.labels.to(device).long()
        num = labels.shape[0]
        if labels.numel() and (labels.min() < 0 or
                               labels.max() >= self.num_things_classes):
            raise ValueError(
                'get_targets: gt_instances.labels must be thing classes in '
                f'[0, {self.num_things_classes}), got {labels.tolist()}')
        boxes = gt_instances.bboxes
        boxes = getattr(boxes, 'tensor', boxes).to(device).float()
        masks = gt_instances.masks
        if hasattr(masks, 'to_tensor'):
            masks = masks.to_tensor(dtype=torch.float32, device=device)
        masks = torch.as_tensor(masks, device=device).float()
        pad_shape = sizes.pad
        if boxes.shape != (num, 4) or masks.shape != (num, *pad_shape):
            raise ValueError(
                f'get_targets: expected gt_instances.bboxes ({num}, 4) and '
                f'masks ({num}, {pad_shape[0]}, {pad_shape[1]}) padded to '
                f'the batch input, got {tuple(boxes.shape)} and '
                f'{tuple(masks.shape)}')
        masks = masks[:, :sizes.image[0], :sizes.image[1]]
        return (resize_and_pad(masks, sizes.valid, sizes.encoder), labels,
                boxes)

    def _level_thing_targets(
            self, inds: Tensor, level: int, sizes: TargetSizes,
            thing_masks: Tensor, labels: Tensor, box_h: Tensor,
            box_w: Tensor,
            centers: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        """The thing targets of one level.

        Every instance assigned to the level (``inds``) is drawn on the
        heatmap; only the first ``max_things_per_level`` become kernel
        targets.

        Args:
            inds (Tensor): Instances assigned to the level (n,).
            level (int): Index into ``sizes.levels``.
            sizes (TargetSizes): See :meth:`_target_sizes`.
            thing_masks (Tensor): Soft stride-4 masks (N, H/4, W/4).
            labels (Tensor): Classes (N,).
            box_h (Tensor): Box heights (N,) in input pixels.
            box_w (Tensor): Box widths (N,) in input pixels.
            centers (Tensor): Stride-4 centres ``[y, x]`` (N, 2).

        Returns:
            tuple[Tensor, Tensor, Tensor, Tensor]: The heatmap
            (N_th, h_l, w_l), the kernel-target instances (n_l,), their
            flat centre positions ``y * w_l + x`` (n_l,) and their top-k
            candidate regions (n_l, h_l, w_l) bool.
        """
        h_l, w_l = sizes.levels[level]
        scale = centers.new_tensor(
            [h_l / sizes.encoder[0], w_l / sizes.encoder[1]])
        level_centers = (centers[inds] * scale).long()
        level_centers[:, 0].clamp_(0, h_l - 1)
        level_centers[:, 1].clamp_(0, w_l - 1)
        radii = gaussian_radius(box_h[inds] * (h_l / sizes.pad[0]),
                                box_w[inds] * (w_l / sizes.pad[1]),
                                self.gaussian_overlap)
        heatmap = draw_gaussian_heatmap(self.num_things_classes, (h_l, w_l),
                                        level_centers, radii, labels[inds],
                                        self.gaussian_sigma_factor)
        capped = slice(0, self.max_things_per_level)
        flat_centers = (level_centers[capped, 0] * w_l +
                        level_centers[capped, 1])
        inds = inds[capped]
        regions = resize_maps(thing_masks[inds],
                              (h_l, w_l)) > self.thing_region_thr
        return heatmap, inds, flat_centers, regions
