"""The segments of a predicted panoptic map: sequential ids, labels,
areas, boxes and, for things, the score of the instance they came from."""
from typing import List, Optional, Tuple

import numpy as np
from mmdet.evaluation import INSTANCE_OFFSET
from pycocotools import mask as mask_utils

# pixels handled at once by the full-size passes (bounds the temporaries)
PIXEL_CHUNK = 1 << 20
# maps whose values lie in [0, MAX_TABLE_VALUE) are counted and renumbered
# through a table of that many entries instead of a sorted copy
MAX_TABLE_VALUE = 1 << 24


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


def row_chunks(height: int, width: int,
               pixels: int = PIXEL_CHUNK) -> List[slice]:
    """Row ranges of about ``pixels`` pixels covering a (height, width)
    map."""
    step = max(1, pixels // max(width, 1))
    return [slice(start, start + step) for start in range(0, height, step)]


def _value_counts(pan_seg: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """The distinct values of a map, ascending, and their pixel counts:
    ``np.unique(pan_seg, return_counts=True)``, by a bincount over chunks
    of rows where the values are small non-negative integers (a panoptic
    map's are below ``(instances + 1) * INSTANCE_OFFSET``), so that no
    sorted copy of the map is made."""
    if pan_seg.size == 0 or pan_seg.dtype.kind not in 'iu' or \
            pan_seg.min() < 0 or pan_seg.max() >= MAX_TABLE_VALUE:
        return np.unique(pan_seg, return_counts=True)
    high = int(pan_seg.max())
    counts = np.zeros(high + 1, dtype=np.int64)
    for rows in row_chunks(*pan_seg.shape):
        part = pan_seg[rows].ravel().astype(np.intp, copy=False)
        counts += np.bincount(part, minlength=high + 1)
    values = np.flatnonzero(counts)
    return values, counts[values]


def _id_map(pan_seg: np.ndarray, values: np.ndarray,
            ids: np.ndarray) -> np.ndarray:
    """The (H, W) int32 map holding ``ids[k]`` where ``pan_seg`` is
    ``values[k]`` (``values`` ascending, every value of the map among
    them), by chunks of rows: no full-size temporary."""
    id_map = np.empty(pan_seg.shape, dtype=np.int32)
    ids = ids.astype(np.int32)
    table = None
    if pan_seg.dtype.kind in 'iu' and len(values) and values[0] >= 0 \
            and values[-1] < MAX_TABLE_VALUE:
        table = np.zeros(int(values[-1]) + 1, dtype=np.int32)
        table[values] = ids
    for rows in row_chunks(*pan_seg.shape):
        if table is not None:
            np.take(table, pan_seg[rows], out=id_map[rows], mode='clip')
        else:
            id_map[rows] = ids[np.searchsorted(values, pan_seg[rows])]
    return id_map


def _boxes(id_map: np.ndarray, num: int) -> Tuple[np.ndarray, ...]:
    """``x1, y1, x2, y2`` (inclusive) of segments 1..num of an id map,
    from the rows and columns each touches (by chunks of rows)."""
    height, width = id_map.shape
    rows = np.zeros((num + 1, height), dtype=bool)
    cols = np.zeros((num + 1, width), dtype=bool)
    for part in row_chunks(height, width):
        block = id_map[part]
        rows[block, np.arange(height)[part][:, None]] = True
        cols[block, np.arange(width)[None, :]] = True
    y1, y2 = _spans(rows[1:])
    x1, x2 = _spans(cols[1:])
    return x1, y1, x2, y2


def _instance_scores(id_map: np.ndarray, seg_labels: np.ndarray,
                     masks: np.ndarray, labels: np.ndarray,
                     scores: np.ndarray) -> np.ndarray:
    """Score of every segment: that of the same-class instance mask
    covering most of it (NaN if none).

    Args:
        id_map (np.ndarray): (H, W) segment ids 1..K, 0 = void.
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
    chunks = row_chunks(*id_map.shape)
    overlap = np.zeros((len(masks), num_segments + 1), dtype=np.int64)
    for i, mask in enumerate(masks):
        mask = _dense(mask)
        for rows in chunks:
            overlap[i] += np.bincount(id_map[rows][mask[rows]],
                                      minlength=num_segments + 1)
    overlap = overlap[:, 1:]  # (n, K)
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
    values, areas = _value_counts(pan_seg)
    labels = values % INSTANCE_OFFSET
    real = labels != num_classes
    # ids 1..K in value order, 0 for void
    id_map = _id_map(pan_seg, values, np.where(real, np.cumsum(real), 0))
    values, labels, areas = values[real], labels[real], areas[real]
    num = len(values)
    x1, y1, x2, y2 = _boxes(id_map, num)

    scores = np.full(num, np.nan)
    if instances is not None:
        scores = _instance_scores(id_map, labels, instances['masks'],
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
