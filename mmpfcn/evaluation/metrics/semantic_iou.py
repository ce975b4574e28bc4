"""Per-class pixel counts and mean IoU of a semantic label map.

Per image the runner metric keeps only three counts per class (intersection,
ground-truth and predicted pixels), which add up over images and ranks, so
nothing image-sized is gathered.
"""
from typing import Tuple

import numpy as np


def semantic_area_stats(pred: np.ndarray, gt: np.ndarray, num_classes: int,
                        ignore_index: int = 255) -> np.ndarray:
    """Count intersection, GT and predicted pixels per class for one image.

    Args:
        pred (np.ndarray): (H, W) predicted labels in ``[0, num_classes)``.
        gt (np.ndarray): (H, W) GT labels in ``[0, num_classes)`` or
            ``ignore_index``.
        num_classes (int): Number of classes C.
        ignore_index (int): GT label of pixels left out (void).

    Returns:
        np.ndarray: (3, C) int64 rows: intersection, GT area, predicted
        area, all over the pixels whose GT is not ignored.
    """
    if pred.shape != gt.shape:
        raise ValueError(f'prediction of shape {pred.shape} does not match '
                         f'the ground truth of shape {gt.shape}')
    valid = gt != ignore_index
    gt, pred = gt[valid], pred[valid]
    hit = gt[gt == pred]
    return np.stack([
        np.bincount(hit, minlength=num_classes),
        np.bincount(gt, minlength=num_classes),
        np.bincount(pred, minlength=num_classes),
    ]).astype(np.int64)


def mean_iou(stats: np.ndarray) -> Tuple[float, np.ndarray]:
    """Mean IoU from summed :func:`semantic_area_stats`.

    A class counts if it occurs in the GT or in the prediction (union > 0);
    this equals detectron2's ``SemSegEvaluator`` (used by the reference) and
    mmseg's nan-mean.

    Args:
        stats (np.ndarray): (3, C) summed intersection, GT and predicted
            areas.

    Returns:
        tuple: mIoU as a fraction (nan if no class occurs) and the (C,)
        per-class IoU (nan for classes that occur nowhere).
    """
    inter, area_gt, area_pred = stats.astype(np.float64)
    union = area_gt + area_pred - inter
    iou = np.full(union.shape, np.nan)
    present = union > 0
    iou[present] = inter[present] / union[present]
    miou = float(iou[present].mean()) if present.any() else float('nan')
    return miou, iou
