"""The target generator of Panoptic FCN (paper Sec. 3.2-3.4): every
training target of one image, built step by step from the thing targets
(:mod:`.thing_targets`) and the stuff targets (:mod:`.stuff_targets`). How
the generators read kernels at the targets' positions is in
:mod:`mmpfcn.models.layers.kernel_gathering`."""
from typing import Optional, Sequence, Tuple

import torch
from mmengine.structures import InstanceData
from torch import Tensor

from mmpfcn.models.task_modules.image_targets import (
    ImageTargets,
    TargetSizes,
    resize_and_pad,
    resize_maps,
)
from mmpfcn.models.task_modules.stuff_targets import (
    level_stuff_targets,
    stuff_one_hot,
)
from mmpfcn.models.task_modules.thing_targets import (
    assign_levels,
    draw_gaussian_heatmap,
    gaussian_radius,
    thing_centers,
)
from mmpfcn.registry import TASK_UTILS


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
