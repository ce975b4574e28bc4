"""Ground-truth positions for the upper-bound evaluation of Panoptic FCN
(paper Table 10): the thing centres L^th and the stuff regions L^st of
every level, where the training targets place them, used instead of the
predicted peaks and regions."""
from typing import List, Tuple

import mmcv
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData
from torch import Tensor

from mmpfcn.models.task_modules.image_targets import ImageTargets

# 'gt_position': GT centres / regions, predicted classes and scores;
# 'gt_position_class': GT centres / regions with the GT classes, score 1
UPPER_BOUNDS = ('gt_position', 'gt_position_class')


def check_upper_bound(mode: str, owner: str) -> None:
    """Raise naming ``owner`` if ``mode`` is not one of ``UPPER_BOUNDS``."""
    if mode not in UPPER_BOUNDS:
        raise ValueError(f'{owner}: upper_bound must be one of '
                         f'{UPPER_BOUNDS}, got {mode!r}')


def gt_targets(target_generator, batch_data_samples: list,
               batch_img_metas: List[dict],
               level_sizes: List[Tuple[int, int]],
               device: torch.device) -> List[ImageTargets]:
    """The training targets of every image of a test batch, from its
    ground truth brought to the network input: their ``thing_centers`` /
    ``thing_labels`` and ``stuff_regions`` / ``stuff_labels`` are exactly
    the positions and regions training uses at each level.

    Args:
        target_generator (PanopticFCNTargetGenerator): The head's.
        batch_data_samples (list[DetDataSample | None]): With
            ``gt_instances`` (non-crowd things; masks as mmdet
            ``BitmapMasks``) and the stuff map ``gt_sem_seg.sem_seg``
            (1, H, W) (``GenerateStuffMap``), at the input or the original
            size.
        batch_img_metas (list[dict]): ``batch_input_shape`` and
            ``img_shape`` of every image.
        level_sizes (list[tuple[int, int]]): (h_l, w_l) of P3..P7.
        device (torch.device): Device of the network outputs.

    Returns:
        list[ImageTargets]: One per image.
    """
    targets = []
    for sample, meta in zip(batch_data_samples, batch_img_metas):
        instances = getattr(sample, 'gt_instances', None)
        sem_seg = getattr(sample, 'gt_sem_seg', None)
        if instances is None or 'masks' not in instances or sem_seg is None:
            raise ValueError(
                'the upper-bound head (paper Table 10) takes the kernels at '
                'the ground-truth centres and stuff regions, but image '
                f'{meta.get("img_path", meta.get("img_id"))} has no '
                'ground-truth instances with masks and stuff map '
                '(gt_sem_seg); load the annotations and GenerateStuffMap in '
                'the test pipeline (data without ground truth, e.g. COCO '
                'test-dev, cannot be evaluated in this mode)')
        pad_shape = tuple(meta['batch_input_shape'])
        img_shape = tuple(meta['img_shape'][:2])
        stuff_map = _stuff_map_at_input_scale(
            sem_seg.sem_seg, img_shape, pad_shape,
            target_generator.ignore_index).to(device)
        targets.append(
            target_generator.get_targets(
                _instances_at_input_scale(instances, img_shape, pad_shape),
                stuff_map,
                pad_shape,
                level_sizes,
                img_shape=img_shape))
    return targets


def gt_thing_peaks(logits: Tensor, positions: Tensor, labels: Tensor,
                   mode: str) -> Tuple[Tensor, Tensor, Tensor]:
    """Scores, labels and positions of the ground-truth centres of one
    image and level, in the layout of :func:`select_thing_peaks`.

    Args:
        logits (Tensor): Thing logits of the level (N_th, h, w).
        positions (Tensor): Flat GT centre positions (n,).
        labels (Tensor): GT classes (n,).
        mode (str): ``'gt_position'``: the predicted class with the highest
            heat (sigmoid) at each position and that heat as its score;
            ``'gt_position_class'``: the GT class with score 1.

    Returns:
        tuple[Tensor, Tensor, Tensor]: Scores (n,), labels (n,), positions
        (n,).
    """
    if mode == 'gt_position_class':
        return logits.new_ones(positions.shape), labels, positions
    heat = logits.flatten(1)[:, positions].sigmoid()  # (N_th, n)
    scores, pred_labels = heat.max(dim=0)
    return scores, pred_labels, positions


def gt_stuff_regions(logits: Tensor, regions: Tensor, labels: Tensor,
                     mode: str) -> Tuple[Tensor, Tensor, Tensor]:
    """Scores, labels and regions of the ground-truth stuff regions of one
    image and level, in the layout of :func:`select_stuff_regions`.

    Args:
        logits (Tensor): Stuff logits of the level (N_st, h, w).
        regions (Tensor): GT regions (m, h, w) bool (the targets'
            ``stuff_regions`` of the level).
        labels (Tensor): Their GT stuff channels (m,).
        mode (str): ``'gt_position'``: each region takes the channel whose
            predicted probability (sigmoid), averaged over the region, is
            highest, and that average as its score (the score the ordinary
            inference gives its own regions); ``'gt_position_class'``: the
            GT channel with score 1.

    Returns:
        tuple[Tensor, Tensor, Tensor]: Scores (m,), labels (m,) long and
        regions (m, h, w) bool.
    """
    if mode == 'gt_position_class':
        return logits.new_ones(labels.shape), labels, regions
    flat = regions.flatten(1).to(logits.dtype)  # (m, h * w)
    area = flat.sum(dim=1, keepdim=True).clamp(min=1)
    mean_prob = flat @ logits.flatten(1).sigmoid().t() / area  # (m, N_st)
    scores, pred_labels = mean_prob.max(dim=1)
    return scores, pred_labels, regions


def _instances_at_input_scale(instances: InstanceData,
                              img_shape: Tuple[int, int],
                              pad_shape: Tuple[int, int]) -> InstanceData:
    """Ground-truth things at the network input: masks (mmdet
    ``BitmapMasks``) loaded at the original size are resized (nearest) to
    ``img_shape`` and boxes scaled alike; masks are padded to
    ``pad_shape``."""
    masks = instances.masks
    boxes = instances.bboxes
    boxes = getattr(boxes, 'tensor', boxes).float()
    if (masks.height, masks.width) != img_shape:
        scale_x = img_shape[1] / masks.width
        scale_y = img_shape[0] / masks.height
        masks = masks.resize(img_shape)
        boxes = boxes * boxes.new_tensor([scale_x, scale_y, scale_x, scale_y])
    return InstanceData(
        labels=instances.labels, bboxes=boxes, masks=masks.pad(pad_shape))


def _stuff_map_at_input_scale(stuff_map: Tensor, img_shape: Tuple[int, int],
                              pad_shape: Tuple[int, int],
                              ignore_index: int) -> Tensor:
    """The stuff map (1, H, W) at the network input, (H_pad, W_pad) long:
    resized (nearest, as the masks) to ``img_shape`` if loaded at the
    original size, padded with ``ignore_index``."""
    stuff_map = stuff_map.reshape(stuff_map.shape[-2:]).long()
    if tuple(stuff_map.shape) != img_shape:
        resized = mmcv.imresize(
            stuff_map.cpu().numpy().astype(np.uint8),
            (img_shape[1], img_shape[0]),
            interpolation='nearest')
        stuff_map = torch.from_numpy(resized).long()
    return F.pad(stuff_map, (0, pad_shape[1] - img_shape[1], 0,
                             pad_shape[0] - img_shape[0]),
                 value=ignore_index)
