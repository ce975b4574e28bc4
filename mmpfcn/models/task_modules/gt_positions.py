"""Ground-truth thing positions for the upper-bound evaluation mode of
Panoptic FCN (paper Table 10): the kernels are taken at the ground-truth
centres of each level instead of the predicted peaks."""
from typing import List, Tuple

import torch
from mmengine.structures import InstanceData
from torch import Tensor

# per image, per level: flat positions (n_l,) and classes (n_l,)
GtPositions = List[List[Tuple[Tensor, Tensor]]]


def gt_thing_positions(target_generator, mode: str, batch_data_samples: list,
                       batch_img_metas: List[dict],
                       level_sizes: List[Tuple[int, int]],
                       device: torch.device) -> GtPositions:
    """Centres (flat level positions) and classes of the non-crowd
    ground-truth things of every image and level, exactly as the training
    targets place them (at most ``max_things_per_level``), for the
    upper-bound evaluation of the paper's Table 10.

    Args:
        target_generator (PanopticFCNTargetGenerator): The head's.
        mode (str): ``test_cfg.upper_bound``, named in errors.
        batch_data_samples (list[DetDataSample | None]): With
            ``gt_instances`` (masks as mmdet ``BitmapMasks``, at the input
            or the original size).
        batch_img_metas (list[dict]): ``batch_input_shape`` and
            ``img_shape`` of every image.
        level_sizes (list[tuple[int, int]]): (h_l, w_l) of P3..P7.
        device (torch.device): Device of the network outputs.

    Returns:
        list[list[tuple[Tensor, Tensor]]]: Per image and level, positions
        (n_l,) and classes (n_l,).
    """
    positions = []
    for sample, meta in zip(batch_data_samples, batch_img_metas):
        instances = getattr(sample, 'gt_instances', None)
        if instances is None or 'masks' not in instances:
            raise ValueError(
                f'test_cfg.upper_bound={mode!r} takes the kernels at the '
                'ground-truth centres, but image '
                f'{meta.get("img_path", meta.get("img_id"))} has no '
                'ground-truth instances with masks; load the annotations '
                'in the test pipeline (data without ground truth, e.g. '
                'COCO test-dev, cannot be evaluated in this mode)')
        pad_shape = tuple(meta['batch_input_shape'])
        img_shape = tuple(meta['img_shape'][:2])
        targets = target_generator.get_targets(
            _instances_at_input_scale(instances, img_shape, pad_shape),
            torch.full(pad_shape, target_generator.ignore_index,
                       device=device),
            pad_shape,
            level_sizes,
            img_shape=img_shape)
        positions.append(
            list(zip(targets.thing_centers, targets.thing_labels)))
    return positions


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
