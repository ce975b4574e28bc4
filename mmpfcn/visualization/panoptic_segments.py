"""The segments of a predicted panoptic map: sequential ids, labels,
areas, boxes and, for things, the score of the instance they came from."""
from typing import List, Optional, Tuple

import numpy as np
from mmdet.evaluation import INSTANCE_OFFSET
from pycocotools import mask as mask_utils


def _spans(present: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """First and last True column of every row of a (K, N) bool array."""
    first = present.argmax(axis=1)
    last = present.shape[1] - 1 - present[:, ::-1].argmax(axis=1)
    return first, last


def _dense(mask) -> np.ndarray:
    """An (H, W) bool mask from a bool array or an RLE dict."""
    if isinstance(mask, dict):
        return mask_utils.decode(mask).astype(bool)
    return mask


def _instance_scores(segment_index: np.ndarray, seg_labels: np.ndarray,
                     masks: np.ndarray, labels: np.ndarray,
                     scores: np.ndarray) -> np.ndarray:
    """Score of every segment: that of the same-class instance mask
    covering most of it (NaN if none).

    Args:
        segment_index (np.ndarray): (H, W) segment index, -1 = void.
        seg_labels (np.ndarray): (K,) class of every segment.
        masks (np.ndarray | list): (n, H, W) bool instance masks, or n
            RLE dicts (decoded one at a time).
        labels (np.ndarray): (n,) instance classes.
        scores (np.ndarray): (n,) instance scores.

    Returns:
        np.ndarray: (K,) float scores.
    """
    num_segments = len(seg_labels)
    result = np.full(num_segments, np.nan)
    if len(masks) == 0 or num_segments == 0:
        return result
    shifted = segment_index + 1  # 0 = void, for bincount
    overlap = np.stack([
        np.bincount(shifted[_dense(mask)], minlength=num_segments + 1)[1:]
        for mask in masks
    ])  # (n, K)
    overlap = np.where(labels[:, None] == seg_labels[None], overlap, 0)
    best = overlap.argmax(axis=0)
    found = overlap.max(axis=0) > 0
    result[found] = scores[best[found]]
    return result


def panoptic_segments(pan_seg: np.ndarray,
                      num_things_classes: int,
                      num_classes: int,
                      instances: Optional[dict] = None
                      ) -> Tuple[np.ndarray, List[dict]]:
    """Number the segments of an mmdet panoptic map 1..K.

    Args:
        pan_seg (np.ndarray): (H, W) map, ``label + id * INSTANCE_OFFSET``,
            void = ``num_classes``.
        num_things_classes (int): Labels below this are things.
        num_classes (int): Number of classes (the void value).
        instances (dict, optional): ``masks`` (n, H, W) bool (or a list of
            n RLE dicts), ``labels``
            and ``scores`` (n,) numpy arrays; gives things their score.

    Returns:
        tuple[np.ndarray, list[dict]]: An (H, W) int32 id map (0 = void)
        and per segment ``id``, ``label``, ``isthing``, ``area``, ``bbox``
        ([x, y, w, h]) and ``score`` (things with a matching instance).
    """
    if pan_seg.ndim != 2:
        raise ValueError(f'expected an (H, W) panoptic map, got shape '
                         f'{pan_seg.shape}')
    height, width = pan_seg.shape
    values, inverse, areas = np.unique(
        pan_seg, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(height, width)
    labels = values % INSTANCE_OFFSET
    real = labels != num_classes
    # segment index per value (-1 for void), ids 1..K in value order
    index_of_value = np.where(real, np.cumsum(real) - 1, -1)
    segment_index = index_of_value[inverse]
    id_map = (segment_index + 1).astype(np.int32)
    values, labels, areas = values[real], labels[real], areas[real]
    num = len(values)

    # boxes: which rows / columns every segment touches
    rows = np.zeros((num + 1, height), dtype=bool)
    cols = np.zeros((num + 1, width), dtype=bool)
    rows[id_map, np.arange(height)[:, None]] = True
    cols[id_map, np.arange(width)[None, :]] = True
    y1, y2 = _spans(rows[1:])
    x1, x2 = _spans(cols[1:])

    scores = np.full(num, np.nan)
    if instances is not None:
        scores = _instance_scores(segment_index,
                                  labels, instances['masks'],
                                  np.asarray(instances['labels']),
                                  np.asarray(instances['scores']))
    segments = []
    for k in range(num):
        isthing = bool(labels[k] < num_things_classes)
        segment = dict(
            id=k + 1,
            label=int(labels[k]),
            isthing=isthing,
            area=int(areas[k]),
            bbox=[int(x1[k]), int(y1[k]), int(x2[k] - x1[k] + 1),
                  int(y2[k] - y1[k] + 1)])
        if isthing and not np.isnan(scores[k]):
            segment['score'] = float(scores[k])
        segments.append(segment)
    return id_map, segments
