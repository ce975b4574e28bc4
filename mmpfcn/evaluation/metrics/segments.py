"""Panoptic predictions and ground truth as lists of RLE segments.

The records the runner metric keeps per image, in the form the PQ engine's
in-memory path takes: COCO panoptic ``segments_info`` dicts, each carrying
its mask as a pycocotools RLE ``segmentation``.
"""
from typing import List, Sequence, Tuple

import numpy as np

from ..functional.rle import encode_id_map


def encode_panoptic_prediction(
        pan: np.ndarray,
        label2cat: np.ndarray,
        void_labels: Sequence[int],
        instance_offset: int,
        name: str = 'prediction') -> Tuple[List[dict], np.ndarray,
                                           np.ndarray]:
    """Split an mmdet panoptic map into RLE segments numbered 1..K.

    Args:
        pan (np.ndarray): (H, W) int64 ``label + instance_id *
            instance_offset``.
        label2cat (np.ndarray): (C,) category id of each label.
        void_labels (Sequence[int]): Labels meaning "no segment" (mmdet:
            the number of classes and the map's ``ignore_index``).
        instance_offset (int): mmdet's ``INSTANCE_OFFSET``.
        name (str): What to call the map in errors (e.g. the image).

    Returns:
        tuple:
            - list[dict]: ``{'id', 'category_id', 'area', 'segmentation'}``
              per segment; ids are 1..K (0 is void in a COCO PNG, while
              ``label 0 + instance 0`` is a valid mmdet value).
            - np.ndarray: (K',) the distinct values of ``pan``.
            - np.ndarray: (K',) the segment id given to each (0 = void).
    """
    ids, rles, areas = encode_id_map(pan)
    if ids.size and ids[0] < 0:
        raise ValueError(f'{name}: pred_panoptic_seg has negative values')
    labels = ids % instance_offset
    keep = np.ones(ids.size, dtype=bool)
    for void in set(void_labels):  # one or two labels: no sort (np.isin)
        keep &= labels != void
    bad = labels[keep & (labels >= label2cat.size)]
    if bad.size:
        raise ValueError(f'{name}: pred_panoptic_seg has labels '
                         f'{bad.tolist()} outside 0..{label2cat.size - 1} '
                         f'(void: {sorted(set(void_labels))})')
    seg_ids = np.where(keep, np.cumsum(keep), 0)
    segments = [
        dict(id=int(seg_id), category_id=int(cat), area=int(area),
             segmentation=rles[k])
        for k, seg_id, cat, area in zip(
            np.flatnonzero(keep), seg_ids[keep], label2cat[labels[keep]],
            areas[keep])
    ]
    return segments, ids, seg_ids


def gt_segments(encoded: Tuple[np.ndarray, List[dict], np.ndarray],
                segments_info: Sequence[dict]) -> List[dict]:
    """RLE segments of a COCO panoptic ground truth.

    Args:
        encoded (tuple): :func:`encode_id_map` of the (H, W) segment-id
            map read from the PNG: ids (K',), their RLEs and areas.
        segments_info (Sequence[dict]): The annotation's segments
            (``id``, ``category_id``, ``iscrowd``, ``area``), each present
            in the map.

    Returns:
        list[dict]: ``{'id', 'category_id', 'iscrowd', 'area',
        'segmentation'}`` per segment of ``segments_info`` (area from the
        JSON as panopticapi takes it, else counted).
    """
    ids, rles, areas = encoded
    wanted = np.array([seg['id'] for seg in segments_info], dtype=np.int64)
    pos = np.searchsorted(ids, wanted)
    if wanted.size and (pos.max() >= ids.size or (ids[pos] != wanted).any()):
        raise ValueError(f'segments {wanted.tolist()} are not all in the '
                         f'map (ids {ids.tolist()})')
    return [
        dict(id=seg['id'], category_id=seg['category_id'],
             iscrowd=seg.get('iscrowd', 0),
             area=seg.get('area', int(areas[p])), segmentation=rles[p])
        for seg, p in zip(segments_info, pos.tolist())
    ]
