"""Per-class pixel counts and mean IoU of a semantic label map.

Per image the runner metric keeps only three counts per class (intersection,
ground-truth and predicted pixels), which add up over images and ranks, so
nothing image-sized is gathered. It has the ground truth as RLE masks
(:func:`semantic_area_stats_rle`): counting their overlaps with the
prediction's RLEs costs a few milliseconds, while decoding them back into a
label map costs tens (every mask is written out in full).
"""
from typing import Sequence, Tuple

import numpy as np
from pycocotools import mask as mask_utils

from ..functional.rle import RLE, encode_id_map


def semantic_area_stats_rle(pred: np.ndarray, gt_labels: np.ndarray,
                            gt_rles: Sequence[RLE], num_classes: int,
                            ignore_index: int = 255) -> np.ndarray:
    """Count intersection, GT and predicted pixels per class for one image
    whose GT is given as RLE masks.

    Args:
        pred (np.ndarray): (H, W) predicted labels in ``[0, num_classes)``.
        gt_labels (np.ndarray): (K,) GT label (or ``ignore_index``) of each
            mask; several masks may share a label.
        gt_rles (Sequence[dict]): K pycocotools RLEs of size (H, W) that
            tile the image (every pixel in exactly one).
        num_classes (int): Number of classes C.
        ignore_index (int): GT label of pixels left out (void).

    Returns:
        np.ndarray: (3, C) int64 rows: intersection, GT area, predicted
        area, all over the pixels whose GT is not ignored.
    """
    gt_labels = np.asarray(gt_labels, dtype=np.int64)
    if len(gt_rles) != gt_labels.size:
        raise ValueError(f'{gt_labels.size} GT labels for {len(gt_rles)} '
                         'GT masks')
    stats = np.zeros((3, num_classes), np.int64)
    valid = gt_labels != ignore_index
    if not valid.any() or pred.size == 0:
        return stats
    if list(gt_rles[0]['size']) != list(pred.shape):
        raise ValueError(f'prediction of shape {pred.shape} does not match '
                         f'the ground truth of size {gt_rles[0]["size"]}')
    labels, rles, areas = encode_id_map(pred)  # P predicted labels
    gt_rles = [rle for rle, keep in zip(gt_rles, valid) if keep]
    # pycocotools' IoU against a "crowd" mask g is |d & g| / |d|.
    overlap = mask_utils.iou(rles, gt_rles, [1] * len(gt_rles))
    inter = np.rint(overlap * areas[:, None]).astype(np.int64)  # (P, K')
    confusion = np.zeros((labels.size, num_classes), np.int64)  # (P, C)
    np.add.at(confusion.T, gt_labels[valid], inter.T)
    labels = labels.astype(np.int64)
    stats[0, labels] = confusion[np.arange(labels.size), labels]
    stats[1] = confusion.sum(axis=0)
    stats[2, labels] = confusion.sum(axis=1)
    return stats


def mean_iou(stats: np.ndarray) -> Tuple[float, np.ndarray]:
    """Mean IoU from summed :func:`semantic_area_stats_rle`.

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
